import { EdgefleetError } from '../errors.ts'
import type { FeatureProfile } from '../formats/profile.ts'
import { binIndex, categoryIndex, categoryLookup } from './bin.ts'
import type { CategoryLookup } from './bin.ts'
import { categoryKey, numericValue } from './values.ts'

/** Counts of one feature against a profile's bins: `counts` lines up with the profile's `counts`. */
export interface HistogramCounts {
  counts: number[]
  missing: number
}

/**
 * Accumulates one feature's values into the bins of its reference profile (numeric edges or
 * categorical top-K + `__other__`), counting missing values apart. Adding never allocates.
 *
 * @example
 * const h = new FeatureHistogram(profile.features.temp_max)
 * for (const r of rows) h.add(r.temp_max)
 * h.snapshot() // { counts: [...], missing: 0 }
 */
export class FeatureHistogram {
  readonly type: FeatureProfile['type']
  /** Float64 so counts stay exact far beyond 2^32 (fleet sums); every entry is an integer. */
  readonly counts: Float64Array
  missing = 0
  readonly #edges: Float64Array
  readonly #lookup: CategoryLookup | undefined

  constructor(profile: FeatureProfile) {
    this.type = profile.type
    if (profile.type === 'numeric') {
      this.#edges = Float64Array.from(profile.edges)
      this.#lookup = undefined
      this.counts = new Float64Array(profile.edges.length + 1)
    } else {
      this.#edges = new Float64Array(0)
      this.#lookup = categoryLookup(profile.categories)
      this.counts = new Float64Array(profile.categories.length + 1)
    }
  }

  /** Counts one value: into its bin, or as missing (see `numericValue` / `categoryKey`). */
  add(value: unknown): void {
    if (this.#lookup === undefined) {
      const x = numericValue(value)
      if (x === undefined) this.missing++
      else this.counts[binIndex(this.#edges, x)]++
    } else {
      const key = categoryKey(value)
      if (key === undefined) this.missing++
      else this.counts[categoryIndex(this.#lookup, key)]++
    }
  }

  /** Non-missing values counted so far. */
  get n(): number {
    let n = 0
    for (const c of this.counts) n += c
    return n
  }

  /** A plain copy of the counts, safe to serialize or merge. */
  snapshot(): HistogramCounts {
    return { counts: Array.from(this.counts), missing: this.missing }
  }

  /** Zeroes every count (a new telemetry window). */
  reset(): void {
    this.counts.fill(0)
    this.missing = 0
  }
}

/**
 * The bin-wise sum of two count vectors over the same bins. Exact: every input must be a
 * non-negative safe integer and so must every sum, else an EdgefleetError (`validation_failed`).
 */
export function mergeCounts(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length)
    throw new EdgefleetError(
      'validation_failed',
      `cannot merge counts over different bins: ${a.length} vs ${b.length} entries`,
    )
  const out = new Array<number>(a.length)
  for (let i = 0; i < a.length; i++) {
    const s = a[i] + b[i]
    if (!isCount(a[i]) || !isCount(b[i]) || !Number.isSafeInteger(s))
      throw new EdgefleetError(
        'validation_failed',
        `counts[${i}]: ${a[i]} + ${b[i]} is not an exact non-negative integer sum`,
        { pointer: `/counts/${i}` },
      )
    out[i] = s
  }
  return out
}

/** Merges two histograms of the same feature: counts bin-wise, missing added (exact, as `mergeCounts`). */
export function mergeHistograms(a: HistogramCounts, b: HistogramCounts): HistogramCounts {
  const missing = a.missing + b.missing
  if (!isCount(a.missing) || !isCount(b.missing) || !Number.isSafeInteger(missing))
    throw new EdgefleetError(
      'validation_failed',
      `missing: ${a.missing} + ${b.missing} is not an exact non-negative integer sum`,
      { pointer: '/missing' },
    )
  return { counts: mergeCounts(a.counts, b.counts), missing }
}

function isCount(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0
}
