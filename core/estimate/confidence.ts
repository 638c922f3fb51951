/**
 * @module The device's side of label-free accuracy estimation, pure and without zod (it runs in the
 * SDK's worker and telemetry code): looking a top score up in a calibration map, and the 2^-20 grid
 * calibrated confidences are rounded to so that their sums are exact in any order. Fitting the map is
 * core/estimate/calibration.ts.
 */
import type { Calibration } from '../formats/calibration.ts'
import { binIndex } from '../profile/bin.ts'

/** Calibrated confidences are rounded to multiples of 2^-20, so their sums are exact in any order (below 2^33 values). */
export const CONFIDENCE_GRID = 2 ** 20

/**
 * P(correct) of a prediction whose top score is `score`, from the map: its bin's reference accuracy,
 * rounded to a multiple of 2^-20 (CONFIDENCE_GRID). A score that is not a number in [0, 1] has none.
 */
export function calibratedConfidence(calibration: Calibration, score: number): number | undefined {
  if (!(score >= 0 && score <= 1)) return undefined
  const b = binIndex(calibration.edges, score)
  return onGrid(calibration.correct[b] / calibration.counts[b])
}

/** `x` rounded to the nearest multiple of 2^-20. */
export function onGrid(x: number): number {
  return Math.round(x * CONFIDENCE_GRID) / CONFIDENCE_GRID
}

/** Whether `x` is a multiple of 2^-20 (what every sum of calibrated confidences is). */
export function isOnGrid(x: number): boolean {
  return Number.isInteger(x * CONFIDENCE_GRID)
}
