/**
 * @module Accuracy estimated without labels (CBPE-style, after NannyML's confidence-based
 * performance estimation), pure. Under a calibrated map, prediction i is right with probability p_i,
 * so the expected accuracy of n predictions is Σp_i / n, and the realized accuracy varies around it
 * with variance Σp_i(1 − p_i) / n² (a sum of independent Bernoulli variables). The map itself was
 * fitted on finitely many reference rows; its sampling variance (`calibrationVariance`) is added.
 * The interval is the normal one, value ± 1.96·√(both), clamped to [0, 1]. It holds only as long as
 * the calibration does: under covariate shift it does, a change in P(label | inputs) it cannot see.
 */
import type { Calibration } from '../formats/calibration.ts'
import type { CalibratedSums, EstimatedAccuracy } from '../formats/calibrated.ts'
import type { Figures } from '../telemetry/figures.ts'
import { calibrationVariance, onGrid } from './calibration.ts'
import { addCount } from '../telemetry/saturating.ts'

/** z of a two-sided 95% normal interval. */
export const Z95 = 1.959963984540054

export function emptyCalibrated(): CalibratedSums {
  return { count: 0, sum: 0, sumSq: 0 }
}

/** a + b (counts saturating); exact in any order for sums on the 2^-20 grid. */
export function mergeCalibrated(a: CalibratedSums, b: CalibratedSums): CalibratedSums {
  return { count: addCount(a.count, b.count), sum: a.sum + b.sum, sumSq: a.sumSq + b.sumSq }
}

/** Adds one calibrated confidence `p` (on the grid) into `into`; returns `into`. */
export function observeConfidence(into: CalibratedSums, p: number): CalibratedSums {
  into.count += 1
  into.sum += p
  into.sumSq += onGrid(p * p)
  return into
}

/**
 * The estimated accuracy of `count` predictions with calibrated-confidence sums `sum` and `sumSq`
 * (floats allowed: capped devices count a share), and its 95% interval adding `calibrationVar`
 * (core/estimate/calibration.ts `calibrationVariance`); null without predictions.
 *
 * @example estimatedAccuracy({ count: 100, sum: 70, sumSq: 52 }, 0.0004) // { n: 100, value: 0.7, low: ≈0.642, high: ≈0.758 }
 */
export function estimatedAccuracy(s: CalibratedSums, calibrationVar = 0): EstimatedAccuracy {
  if (!(s.count > 0)) return null
  const value = clamp01(s.sum / s.count)
  const bernoulli = Math.max(0, s.sum - s.sumSq) / (s.count * s.count)
  const half = Z95 * Math.sqrt(bernoulli + Math.max(0, calibrationVar))
  return { n: Math.round(s.count), value, low: clamp01(value - half), high: clamp01(value + half) }
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x))
}

/** The estimated accuracy of (capped) figures, its interval widened by the map's own sampling variance. */
export function estimatedAccuracyOf(
  f: Pick<Figures, 'calibratedCount' | 'calibratedSum' | 'calibratedSumSq'>,
  calibration: Calibration | undefined,
): EstimatedAccuracy {
  return estimatedAccuracy(
    { count: f.calibratedCount, sum: f.calibratedSum, sumSq: f.calibratedSumSq },
    calibration ? calibrationVariance(calibration) : 0,
  )
}
