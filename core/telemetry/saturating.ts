/**
 * Counts of fleet aggregates are exact integers below 2^53 − 1 (9·10^15). An addition that would pass
 * it stays at it instead: never an overflow into inexact floats, never an error on a merge. Saturating
 * addition of non-negative counts is still associative and commutative (min(M, min(M, a + b) + c) =
 * min(M, a + b + c)), so merges stay order-independent; a count at the limit reads "at least".
 * telemetry/1's bounds keep honest fleets far below it (docs/telemetry.md, "Bounds").
 */

/** The largest count an aggregate holds. */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER

/** a + b for non-negative counts, saturating at MAX_COUNT. */
export function addCount(a: number, b: number): number {
  const sum = a + b
  return sum > MAX_COUNT ? MAX_COUNT : sum
}
