import { jsonPointer } from '../json-pointer.ts'
import { EdgefleetError } from '../errors.ts'
import { OTHER_CATEGORY, Profile, PROFILE_VERSION } from '../formats/profile.ts'
import type { CategoricalProfile, FeatureProfile, NumericProfile } from '../formats/profile.ts'
import { binIndex } from './bin.ts'
import { inferColumns } from './infer.ts'
import type { ColumnInference, InferOptions } from './infer.ts'
import { DEFAULT_BINS, quantileEdgesSorted, quantileLevels } from './quantiles.ts'
import { categoryKey, numericValue } from './values.ts'

/** Default number of listed categories of a categorical feature (the rest count as `__other__`). */
export const DEFAULT_TOP_K = 50

/** `profile/1` caps: listed categories, category length, feature name length. */
const MAX_TOP_K = 1000
const MAX_CATEGORY_LENGTH = 256
const MAX_FEATURE_NAME_LENGTH = 160

/** How `buildProfile` bins and which columns it takes (see `inferColumns` for the selection rules). */
export interface ProfileOptions extends InferOptions {
  /** Bins per numeric feature (default 20: 19 inner quantile edges). */
  bins?: number
  /** Listed categories per categorical feature (default 50). */
  topK?: number
}

/**
 * Builds a `profile/1` from raw records (e.g. training data): numeric features get quantile edges,
 * counts and summary statistics, categorical features their top-K categories + `__other__`.
 * Columns are chosen and typed by `inferColumns` unless an inference is passed in.
 *
 * @example buildProfile(rows, { outputs: ['weather'] }).features.temp_max.edges
 */
export function buildProfile(
  records: readonly Record<string, unknown>[],
  options: ProfileOptions = {},
  inference: ColumnInference = inferColumns(records, options),
): Profile {
  if (records.length === 0) throw new EdgefleetError('empty_data', 'no rows to profile')
  const bins = options.bins ?? DEFAULT_BINS
  quantileLevels(bins) // validates bins even when no column is numeric
  const topK = options.topK ?? DEFAULT_TOP_K
  if (!Number.isInteger(topK) || topK < 1 || topK > MAX_TOP_K)
    throw new EdgefleetError('bad_request', `top-K must be an integer in [1, ${MAX_TOP_K}], got ${topK}`)
  const features: Record<string, FeatureProfile> = {}
  const outputs: Record<string, FeatureProfile> = {}
  for (const { name, role, type } of inference.columns) {
    if (name.length === 0 || name.length > MAX_FEATURE_NAME_LENGTH)
      throw new EdgefleetError(
        'validation_failed',
        `column name "${name.slice(0, 40)}…" must be 1 to ${MAX_FEATURE_NAME_LENGTH} characters`,
      )
    const values = records.map((r) => r[name])
    const profile = type === 'numeric' ? numericProfile(values, bins) : categoricalProfile(values, topK)
    if (role === 'output') outputs[name] = profile
    else features[name] = profile
  }
  const parsed = Profile.safeParse({ v: PROFILE_VERSION, rows: records.length, features, outputs })
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new EdgefleetError('validation_failed', `profile: ${issue.path.join('.')}: ${issue.message}`, {
      pointer: jsonPointer(issue.path),
    })
  }
  return parsed.data
}

/** The numeric profile of one column's values; missing values (see `numericValue`) are counted apart. */
export function numericProfile(values: readonly unknown[], bins: number = DEFAULT_BINS): NumericProfile {
  const xs: number[] = []
  for (const v of values) {
    const x = numericValue(v)
    if (x !== undefined) xs.push(x)
  }
  const n = xs.length
  if (n === 0) throw new EdgefleetError('empty_data', 'a numeric feature needs at least one value')
  const sorted = Float64Array.from(xs).sort()
  const edges = quantileEdgesSorted(sorted, bins)
  const edgeArray = Float64Array.from(edges)
  const counts = new Array<number>(edges.length + 1).fill(0)
  for (const x of sorted) counts[binIndex(edgeArray, x)]++
  const mean = compensatedSum(sorted) / n
  // Population standard deviation (ddof = 0, numpy's default): the profile describes this data, it
  // does not estimate a wider population, and devices compare against exactly these moments.
  const std = Math.sqrt(compensatedSum(sorted.map((x) => (x - mean) * (x - mean))) / n)
  return {
    type: 'numeric',
    edges,
    counts,
    n,
    missing: values.length - n,
    mean,
    std,
    min: sorted[0] + 0,
    max: sorted[n - 1] + 0,
  }
}

/**
 * The categorical profile of one column's values: the `topK` most frequent categories, ties broken
 * by category ascending (UTF-16 code units, identical in every runtime), then `__other__`.
 * Categories longer than 256 characters, or spelled `__other__`, are never listed: they count as other.
 */
export function categoricalProfile(values: readonly unknown[], topK: number = DEFAULT_TOP_K): CategoricalProfile {
  const tally = new Map<string, number>()
  let n = 0
  for (const v of values) {
    const key = categoryKey(v)
    if (key === undefined) continue
    n++
    tally.set(key, (tally.get(key) ?? 0) + 1)
  }
  const ranked = [...tally]
    .filter(([key]) => key.length <= MAX_CATEGORY_LENGTH && key !== OTHER_CATEGORY)
    .sort(([ka, ca], [kb, cb]) => cb - ca || (ka < kb ? -1 : ka > kb ? 1 : 0))
    .slice(0, topK)
  const categories = ranked.map(([key]) => key)
  const counts = ranked.map(([, count]) => count)
  counts.push(n - counts.reduce((a, b) => a + b, 0))
  return { type: 'categorical', categories, counts, n, missing: values.length - n }
}

/** Σ xs, Neumaier-compensated so long columns keep full precision. */
function compensatedSum(xs: Float64Array): number {
  let sum = 0
  let c = 0
  for (const term of xs) {
    const t = sum + term
    c += Math.abs(sum) >= Math.abs(term) ? sum - t + term : term - t + sum
    sum = t
  }
  return sum + c
}
