import { EdgefleetError } from '../errors.ts'

/**
 * Quantile edges for `profile/1` numeric features.
 *
 * The quantile is numpy's default (`np.quantile(x, q)`, method `linear`, Hyndman & Fan type 7),
 * reproduced operation for operation so edges match numpy bit for bit: virtual index
 * `v = (n - 1)·q`, `lo = floor(v)`, `γ = v − lo`, and numpy's `_lerp`, which interpolates from the
 * nearer end (`b − (b − a)(1 − γ)` when `γ ≥ 0.5`) so the result never overshoots `b`.
 */

/** Default number of bins of a numeric feature: 19 inner edges at q = 0.05, 0.10, …, 0.95. */
export const DEFAULT_BINS = 20

/** The most bins a feature may have (`profile/1` allows at most 1000 edges). */
export const MAX_BINS = 1001

/** Inner quantile levels for `bins` equal-probability bins: `i / bins` for i = 1 … bins − 1. */
export function quantileLevels(bins: number): number[] {
  if (!Number.isInteger(bins) || bins < 1 || bins > MAX_BINS)
    throw new EdgefleetError('bad_request', `bins must be an integer in [1, ${MAX_BINS}], got ${bins}`)
  const levels: number[] = []
  // i / bins (not i * step) so each level is the correctly rounded fraction, as numpy's `np.arange(1, bins) / bins`.
  for (let i = 1; i < bins; i++) levels.push(i / bins)
  return levels
}

/** The `q`-quantile (0 ≤ q ≤ 1) of ascending-sorted, NaN-free data, as `np.quantile(sorted, q)`. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length
  if (n === 0) throw new EdgefleetError('empty_data', 'quantile of an empty sample')
  const v = (n - 1) * q
  if (v >= n - 1) return sorted[n - 1]
  if (v <= 0) return sorted[0]
  const lo = Math.floor(v)
  const gamma = v - lo
  const a = sorted[lo]
  const b = sorted[lo + 1]
  const diff = b - a
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma
}

/**
 * Sorted unique inner edges for `bins` bins of `values` (finite numbers, any order).
 * Equal quantiles collapse, so skewed or discrete data yields fewer bins.
 *
 * @example quantileEdges([1, 2, 3, 4, 5], 4) // [2, 3, 4]
 */
export function quantileEdges(values: ArrayLike<number>, bins: number = DEFAULT_BINS): number[] {
  return quantileEdgesSorted(Float64Array.from(values).sort(), bins)
}

/** `quantileEdges` for data already sorted ascending (saves the sort when the caller has one). */
export function quantileEdgesSorted(sorted: ArrayLike<number>, bins: number = DEFAULT_BINS): number[] {
  const levels = quantileLevels(bins)
  if (sorted.length === 0) return []
  // `+ 0` folds -0 into 0: both bin identically, and JSON cannot tell them apart anyway.
  const qs = Float64Array.from(levels, (q) => quantileSorted(sorted, q) + 0).sort()
  const edges: number[] = []
  for (const e of qs) if (edges.length === 0 || e > edges[edges.length - 1]) edges.push(e)
  return edges
}
