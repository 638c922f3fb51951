/**
 * Bin lookup for `profile/1`: runs for every feature value of every inference on a device, so both
 * lookups are allocation-free. Numeric bins are right-open `[e_i, e_{i+1})`, with the underflow bin
 * `(-inf, e_0)` at index 0 and the overflow bin `[e_last, +inf)` at index `edges.length`.
 */

/**
 * The counts index of `x` for sorted inner `edges`: the number of edges ≤ x (an upper-bound binary
 * search), or -1 for NaN, which belongs to no bin. Pass a Float64Array on hot paths.
 *
 * @example binIndex(Float64Array.of(1, 2), 1) // 1: [1, 2)
 */
export function binIndex(edges: ArrayLike<number>, x: number): number {
  // NaN fails every comparison and would land in the underflow bin; callers count it as missing.
  if (x !== x) return -1
  let lo = 0
  let hi = edges.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (edges[mid] <= x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** A categorical feature's lookup, built once per profile: category → index; anything else → `other`. */
export interface CategoryLookup {
  readonly index: ReadonlyMap<string, number>
  /** The `__other__` index, `categories.length`. */
  readonly other: number
}

/** Builds the lookup for a profile's listed categories (`__other__` is implicit). */
export function categoryLookup(categories: readonly string[]): CategoryLookup {
  return { index: new Map(categories.map((c, i) => [c, i])), other: categories.length }
}

/** The counts index of category `key` (see `categoryKey`): its position, or the `__other__` bin. */
export function categoryIndex(lookup: CategoryLookup, key: string): number {
  return lookup.index.get(key) ?? lookup.other
}

/**
 * Edges padded with NaN to a power-of-two length greater than their count, for `binIndexPadded`.
 * Padding never changes an answer: `NaN <= x` is false for every x, ±Infinity included.
 */
export function padEdges(edges: ArrayLike<number>): Float64Array {
  let size = 1
  while (size <= edges.length) size *= 2
  const padded = new Float64Array(size).fill(Number.NaN)
  padded.set(Array.from(edges))
  return padded
}

/**
 * `binIndex` over `padEdges` output: log2(length) steps of binary lifting whose data-dependent
 * choice compiles to a conditional move rather than a branch, so unpredictable values cost no
 * mispredictions (the hot path of drift tracking on devices).
 */
export function binIndexPadded(padded: Float64Array, x: number): number {
  if (x !== x) return -1
  let i = 0
  for (let step = padded.length >> 1; step > 0; step >>= 1) i += padded[i + step - 1] <= x ? step : 0
  return i
}
