/**
 * @module
 * The bias check (docs/telemetry.md, "Slices"): the largest gap between slices of one cohort, and the
 * `slice_gap` guardrail's comparison of a candidate with its baseline slice by slice.
 */
import type { SliceCounts, SliceDimension, SliceGap, SliceMetrics } from '../formats/slices.ts'

/**
 * The largest gap between unsuppressed slices, over error rate (errors / inferences) and accuracy
 * (correct / labeled), each over the slices where it is defined; null with fewer than two such
 * slices for both. On a tie the error-rate gap is named; slices are compared in name order, so the
 * result does not depend on the order of `slices`.
 */
export function largestSliceGap(
  dimension: SliceDimension,
  slices: Readonly<Record<string, SliceMetrics | { suppressed: true }>>,
): SliceGap | null {
  const names = Object.keys(slices).sort()
  const gapOf = (metric: SliceGap['metric'], valueOf: (m: SliceMetrics) => number | null): SliceGap | null => {
    const seen: { slice: string; value: number }[] = []
    for (const name of names) {
      const m = slices[name]
      if (m.suppressed) continue
      const v = valueOf(m)
      if (v !== null) seen.push({ slice: name, value: v })
    }
    if (seen.length < 2) return null
    let lo = seen[0]
    let hi = seen[0]
    for (const s of seen) {
      if (s.value < lo.value) lo = s
      if (s.value > hi.value) hi = s
    }
    const [worst, best] = metric === 'error_rate' ? [hi, lo] : [lo, hi]
    return { dimension, metric, worst, best, gap: hi.value - lo.value }
  }
  const errors = gapOf('error_rate', (m) => m.errorRate)
  const accuracy = gapOf('accuracy', (m) => m.feedback?.accuracy ?? null)
  if (errors === null) return accuracy
  if (accuracy === null) return errors
  return accuracy.gap > errors.gap ? accuracy : errors
}

/** The candidate's excess over its baseline on one slice. */
export interface SliceComparison {
  slice: string
  candidate: number
  baseline: number
  /** error_rate: candidate − baseline; accuracy: baseline − candidate (positive = the candidate is worse). */
  excess: number
  devices: { candidate: number; baseline: number }
}

/**
 * Compares the arms slice by slice: for every slice value s with at least `minDevices` devices on
 * both arms (and, for accuracy, labels on both), excess(s) = candidate error rate on s − baseline
 * error rate on s (pooled: errors / inferences), or for accuracy baseline − candidate accuracy on s.
 * Returns the comparisons, worst first (ties by slice name); empty when no slice qualifies.
 */
export function compareSlices(
  candidate: Readonly<Record<string, SliceCounts>>,
  baseline: Readonly<Record<string, SliceCounts>>,
  measure: 'error_rate' | 'accuracy',
  minDevices: number,
): SliceComparison[] {
  const out: SliceComparison[] = []
  for (const slice of Object.keys(candidate).sort()) {
    const c = candidate[slice]
    const b = baseline[slice]
    if (b === undefined || c.devices < minDevices || b.devices < minDevices) continue
    const rate = (s: SliceCounts) =>
      measure === 'error_rate'
        ? s.inferences > 0
          ? s.errors / s.inferences
          : null
        : s.labeled > 0
          ? s.correct / s.labeled
          : null
    const cv = rate(c)
    const bv = rate(b)
    if (cv === null || bv === null) continue
    out.push({
      slice,
      candidate: cv,
      baseline: bv,
      excess: measure === 'error_rate' ? cv - bv : bv - cv,
      devices: { candidate: c.devices, baseline: b.devices },
    })
  }
  return out.sort((x, y) => y.excess - x.excess || (x.slice < y.slice ? -1 : 1))
}
