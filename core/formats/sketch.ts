import * as z from 'zod'
import { SKETCH_MAX_BINS, SKETCH_MIN_INDEXABLE } from './sketch-params.ts'

/**
 * Wire format `sketch/1`: a DDSketch (see `core/sketch/DDSketch.ts`) as a small JSON object holding
 * only the used bin range.
 *
 * ```json
 * {"v": 1, "alpha": 0.01, "zero": 2, "offset": 125, "counts": [3, 0, 1], "n": 6, "sum": 51.5, "min": 0, "max": 12.7}
 * ```
 * - `v`: format version, always 1. A different encoding gets a new version beside this one.
 * - `alpha`: relative accuracy α; γ = (1 + α) / (1 − α).
 * - `zero`: count of values below `SKETCH_MIN_INDEXABLE` (the zero bucket).
 * - `offset`: index of the bin `counts[0]`; bin i holds values x with ⌈ln(x) · (1 / ln γ)⌉ = i, that is
 *   x ∈ (γ^(i−1), γ^i]. 0 when `counts` is empty.
 * - `counts`: integer counts of bins `offset … offset + counts.length − 1`; canonical: the first and last
 *   entries are non-zero (empty when no value reached a bin), at most `SKETCH_MAX_BINS` entries.
 * - `n`: total count, `zero + Σ counts`. `sum`: sum of the values (float).
 * - `min`, `max`: the exact extremes; absent exactly when `n` is 0.
 * Keys appear in this order, so equal sketches serialize to equal strings.
 *
 * The fields must agree with each other, as every sketch `DDSketch` makes (or merges) does: `n` is
 * `zero + Σ counts`; the highest bin is the bin of `max` and, unless the sketch collapsed (2048 bins),
 * the lowest is the bin of `min` (±1 bin: engines may differ in the last bit of `Math.log`); and `sum`
 * lies in [n·min, n·max] up to a relative 1e-6 of float rounding. So bin indexes can only be those
 * values between `min` and `max` map to, and a merge of valid sketches stays valid.
 */
export { SKETCH_DEFAULT_ALPHA, SKETCH_FORMAT, SKETCH_MAX_BINS, SKETCH_MIN_INDEXABLE } from './sketch-params.ts'

/** Relative slack of the `sum` check: float sums of up to 2^53 values stay far inside it in practice. */
export const SKETCH_SUM_TOLERANCE = 1e-6

/** The bin index of a value ≥ `SKETCH_MIN_INDEXABLE` at relative accuracy `alpha`: ⌈ln(x) / ln γ⌉, computed as `DDSketch` does. */
export function sketchIndex(value: number, alpha: number): number {
  return Math.ceil(Math.log(value) * (1 / Math.log((1 + alpha) / (1 - alpha))))
}

const count = z.int().nonnegative()
const value = z.number().nonnegative()

/** Schema of a `sketch/1` object (zod); also checks the invariants between its fields. */
export const SketchJson = z
  .strictObject({
    v: z.literal(1),
    alpha: z.number().gt(0).lt(1),
    zero: count,
    offset: z.int(),
    counts: z.array(count).max(SKETCH_MAX_BINS),
    n: count,
    sum: value,
    min: value.optional(),
    max: value.optional(),
  })
  .superRefine((s, ctx) => {
    // `reason` names the refusal where the edge counts them (telemetry/1's BoundReason).
    const fail = (path: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [path], message, params: { reason: 'sketch_inconsistent' } })
    const last = s.counts.length - 1
    if (last >= 0 && (s.counts[0] === 0 || s.counts[last] === 0))
      fail('counts', 'first and last bin counts must be non-zero')
    if (last < 0 && s.offset !== 0) fail('offset', 'offset must be 0 when counts is empty')
    if (!Number.isSafeInteger(s.offset + last)) fail('offset', 'bin indices must be safe integers')
    let total = s.zero
    for (const c of s.counts) total += c
    if (total !== s.n || !Number.isSafeInteger(total)) fail('n', `n must equal zero + sum of counts (${total})`)
    if (s.n === 0) {
      if (s.min !== undefined || s.max !== undefined) fail('min', 'min and max must be absent when n is 0')
      if (s.sum !== 0) fail('sum', 'sum must be 0 when n is 0')
      return
    }
    if (s.min === undefined || s.max === undefined)
      return fail(s.min === undefined ? 'min' : 'max', 'min and max are required when n > 0')
    if (s.min > s.max) fail('min', 'min must not exceed max')
    if (s.zero > 0 !== s.min < SKETCH_MIN_INDEXABLE)
      fail('min', 'min must be below SKETCH_MIN_INDEXABLE exactly when zero > 0')
    if (last >= 0 !== s.max >= SKETCH_MIN_INDEXABLE)
      return fail('max', 'max must be at least SKETCH_MIN_INDEXABLE exactly when counts is non-empty')
    if (last >= 0) {
      const top = sketchIndex(s.max, s.alpha)
      if (Math.abs(s.offset + last - top) > 1) fail('offset', `the highest bin must be the bin of max (${top})`)
      const bottom = sketchIndex(Math.max(s.min, SKETCH_MIN_INDEXABLE), s.alpha)
      const collapsed = s.counts.length === SKETCH_MAX_BINS
      if (s.offset < bottom - 1 || (!collapsed && s.min >= SKETCH_MIN_INDEXABLE && s.offset > bottom + 1))
        fail('offset', `the lowest bin must be the bin of min (${bottom})`)
    }
    const low = s.n * s.min * (1 - SKETCH_SUM_TOLERANCE)
    const high = s.n * s.max * (1 + SKETCH_SUM_TOLERANCE)
    if (!(s.sum >= low && s.sum <= high)) fail('sum', 'sum must lie between n·min and n·max')
  })

/** A `sketch/1` object as produced by `DDSketch.toJSON()`. */
export type SketchJson = z.infer<typeof SketchJson>
