/**
 * @module Calibration of a classifier's top score, pure: fitting the map on labelled reference data
 * and looking a score up in it. The map is histogram binning on equal-mass bins of the score
 * (Zadrozny & Elkan 2001), made monotone by pool-adjacent-violators over the bins (Ayer et al. 1955:
 * adjacent bins whose accuracy decreases are pooled until none does), so a higher score never maps
 * to a lower P(correct) and no bin is fitted on fewer rows than equal-mass binning gives it.
 */
import { EdgefleetError } from '../errors.ts'
import type { Calibration } from '../formats/calibration.ts'
import { binIndex } from '../profile/bin.ts'

export { calibratedConfidence, CONFIDENCE_GRID, isOnGrid, onGrid } from './confidence.ts'

/** Default bins before pooling: 10 equal-mass bins of the reference's top scores. */
export const DEFAULT_CALIBRATION_BINS = 10
/** Most bins a calibration map may have. */
export const MAX_CALIBRATION_BINS = 100

/** One labelled reference prediction: the model's top class score and whether the class was right. */
export interface ScoredOutcome {
  score: number
  correct: boolean
}

/**
 * Fits a calibration map on labelled reference predictions: `bins` equal-mass bins of the score
 * (edges at the scores of ranks ⌊k·n/bins⌋, ties kept in one bin), then adjacent bins pooled while
 * an accuracy decreases. Throws `empty_data` without outcomes and `bad_request` for a score outside
 * [0, 1] or a bin count outside [1, 100].
 *
 * @example fitCalibration([{ score: 0.9, correct: true }, { score: 0.4, correct: false }], { label: 'weather' })
 */
export function fitCalibration(
  outcomes: readonly ScoredOutcome[],
  options: { label: string; bins?: number },
): Calibration {
  const bins = options.bins ?? DEFAULT_CALIBRATION_BINS
  if (!Number.isInteger(bins) || bins < 1 || bins > MAX_CALIBRATION_BINS)
    throw new EdgefleetError(
      'bad_request',
      `calibration bins must be an integer in [1, ${MAX_CALIBRATION_BINS}], got ${bins}`,
    )
  if (outcomes.length === 0) throw new EdgefleetError('empty_data', 'no labelled predictions to calibrate on')
  for (const o of outcomes)
    if (!(o.score >= 0 && o.score <= 1))
      throw new EdgefleetError('bad_request', `a top score must be in [0, 1], got ${o.score}`)
  const sorted = [...outcomes].sort((a, b) => a.score - b.score)
  const n = sorted.length
  const edges: number[] = []
  for (let k = 1; k < bins; k++) {
    const e = sorted[Math.floor((k * n) / bins)].score
    // Every bin keeps at least the reference score at its lower edge, so none is empty.
    if (e > sorted[0].score && (edges.length === 0 || e > edges[edges.length - 1])) edges.push(e + 0)
  }
  const counts = new Array<number>(edges.length + 1).fill(0)
  const correct = new Array<number>(edges.length + 1).fill(0)
  for (const o of sorted) {
    const b = binIndex(edges, o.score)
    counts[b]++
    if (o.correct) correct[b]++
  }
  // The format's CALIBRATION_METHOD, spelled here (and checked by the type) so the SDK's bundles need no zod.
  const method: Calibration['method'] = 'histogram-pav'
  return { method, label: options.label, ...poolAdjacentViolators(edges, counts, correct) }
}

/** Pools adjacent bins (dropping the edge between them) until accuracies never decrease. */
function poolAdjacentViolators(
  edges: number[],
  counts: number[],
  correct: number[],
): Pick<Calibration, 'edges' | 'counts' | 'correct'> {
  // A stack of pooled blocks; each block keeps the edge below it (none for the first).
  const blocks: { edge: number | undefined; count: number; correct: number }[] = []
  for (let i = 0; i < counts.length; i++) {
    let block = { edge: i === 0 ? undefined : edges[i - 1], count: counts[i], correct: correct[i] }
    while (blocks.length > 0) {
      const top = blocks[blocks.length - 1]
      // top.accuracy > block.accuracy, compared as cross products so integers stay exact.
      if (top.correct * block.count <= block.correct * top.count) break
      blocks.pop()
      block = { edge: top.edge, count: top.count + block.count, correct: top.correct + block.correct }
    }
    blocks.push(block)
  }
  return {
    edges: blocks.slice(1).map((b) => b.edge as number),
    counts: blocks.map((b) => b.count),
    correct: blocks.map((b) => b.correct),
  }
}

/**
 * The sampling variance of the map's reference accuracy at the reference's own bin mix:
 * Σ_b n_b·a_b(1 − a_b) / N² (binomial variance per bin, weighted by its share of N rows). The
 * fleet's estimate inherits this error from the reference (docs/telemetry.md, "Estimated accuracy").
 */
export function calibrationVariance(calibration: Calibration): number {
  let n = 0
  let v = 0
  for (let b = 0; b < calibration.counts.length; b++) {
    const m = calibration.counts[b]
    const a = calibration.correct[b] / m
    n += m
    v += m * a * (1 - a)
  }
  return n > 0 ? v / (n * n) : 0
}
