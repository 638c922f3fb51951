import {
  DEFAULT_DRIFT_POLICY,
  binnedVerdict,
  rawCategoricalVerdict,
  rawNumericVerdict,
  verdictKind,
} from '../core/drift/index.ts'
import type { DriftPolicy, DriftReason } from '../core/drift/index.ts'
import { EdgefleetError } from '../core/errors.ts'
import type { FeatureProfile } from '../core/formats/profile.ts'
import {
  buildProfile,
  DEFAULT_BINS,
  DEFAULT_TOP_K,
  FeatureHistogram,
  inferColumns,
  numericValue,
} from '../core/profile/index.ts'
import type { ColumnInference, SkipReason } from '../core/profile/index.ts'
import type { Dataset } from './records.ts'

/** Which verdict decides `drifted`: `auto` = raw samples up to the policy's reference size, binned beyond. */
export type DriftRuleOption = 'auto' | 'raw' | 'binned'

/** How `compareDatasets` selects columns and decides. */
export interface CompareOptions {
  categorical?: readonly string[]
  ignore?: readonly string[]
  rule?: DriftRuleOption
  policy?: Partial<DriftPolicy>
}

interface FeatureDriftBase {
  n: [number, number]
  missing: [number, number]
  psi: number | null
  js: number | null
  hellinger: number | null
  chi2: number | null
  chi2_dof: number
  chi2_p: number | null
  /** The verdict of the report's rule. */
  drifted: boolean
  reason: DriftReason
  drifted_raw: boolean
  drifted_binned: boolean
}

/** A numeric feature: raw-sample KS and Wasserstein, then binned metrics on the reference's quantile bins. */
export interface NumericDrift extends FeatureDriftBase {
  type: 'numeric'
  ks: number | null
  ks_p: number | null
  ks_method: 'exact' | 'asymp' | null
  wasserstein: number | null
  binned_ks: number | null
}

/** A categorical feature: binned metrics on the reference's top-K categories + `__other__`. */
export interface CategoricalDrift extends FeatureDriftBase {
  type: 'categorical'
}

export type FeatureDrift = NumericDrift | CategoricalDrift

/** The `edgefleet drift --json` document. NaN metrics (a side with no values) serialize as null. */
export interface DriftReport {
  features: Record<string, FeatureDrift>
  drifted_count: number
  feature_count: number
  drifted_share: number
  drifted_binned_share: number
  rule: 'raw' | 'binned'
  reference: { file: string; rows: number }
  current: { file: string; rows: number }
  skipped: Record<string, SkipReason>
}

/**
 * Compares current data with reference data column by column (types inferred from the reference).
 * Every metric comes from core/drift and core/stats; this only aligns the data. Throws an
 * EdgefleetError naming the file when the two sides do not have the same columns.
 */
export function compareDatasets(ref: Dataset, cur: Dataset, options: CompareOptions = {}): DriftReport {
  const policy = { ...DEFAULT_DRIFT_POLICY, ...options.policy }
  checkSameColumns(ref, cur, new Set(options.ignore))
  let inference: ColumnInference
  try {
    inference = inferColumns(ref.records, { categorical: options.categorical, ignore: options.ignore })
  } catch (e) {
    throw e instanceof EdgefleetError ? new EdgefleetError(e.code, `${ref.file}: ${e.message}`, { cause: e }) : e
  }
  if (inference.columns.length === 0)
    throw new EdgefleetError(
      'empty_data',
      `${ref.file}: no columns to compare (skipped: ${inference.skipped.map((s) => `${s.name} (${s.reason})`).join(', ') || 'none'})`,
    )
  const profile = buildProfile(ref.records, { bins: DEFAULT_BINS, topK: DEFAULT_TOP_K }, inference)
  const rule =
    options.rule === undefined || options.rule === 'auto' ? verdictKind(ref.records.length, policy) : options.rule
  const features: Record<string, FeatureDrift> = {}
  for (const { name } of inference.columns)
    features[name] = compareFeature(name, profile.features[name], ref, cur, rule, policy)
  const all = Object.values(features)
  const driftedCount = all.filter((f) => f.drifted).length
  return {
    features,
    drifted_count: driftedCount,
    feature_count: all.length,
    drifted_share: driftedCount / all.length,
    drifted_binned_share: all.filter((f) => f.drifted_binned).length / all.length,
    rule,
    reference: { file: ref.file, rows: ref.records.length },
    current: { file: cur.file, rows: cur.records.length },
    skipped: Object.fromEntries(inference.skipped.map((s) => [s.name, s.reason])),
  }
}

function compareFeature(
  name: string,
  refProfile: FeatureProfile,
  ref: Dataset,
  cur: Dataset,
  rule: 'raw' | 'binned',
  policy: DriftPolicy,
): FeatureDrift {
  const histogram = new FeatureHistogram(refProfile)
  for (const r of cur.records) histogram.add(r[name])
  const curCounts = Array.from(histogram.counts)
  const n: [number, number] = [refProfile.n, histogram.n]
  const missing: [number, number] = [refProfile.missing, histogram.missing]
  const binned = binnedVerdict(refProfile.counts, curCounts, policy)
  const m = binned.metrics
  const binnedFields = { psi: num(m.psi), js: num(m.js), hellinger: num(m.hellinger) }
  const chi2Fields = { chi2: num(m.chi2), chi2_dof: m.dof, chi2_p: num(m.chi2_p) }
  if (refProfile.type === 'categorical') {
    const raw = rawCategoricalVerdict(refProfile.counts, curCounts, policy)
    const decided = rule === 'raw' ? raw : binned
    return {
      type: 'categorical',
      n,
      missing,
      ...binnedFields,
      ...chi2Fields,
      drifted: decided.drifted,
      reason: decided.reason,
      drifted_raw: raw.drifted,
      drifted_binned: binned.drifted,
    }
  }
  // Raw samples: exactly the values the histograms counted (finite numbers), the reference's from its rows.
  const raw = rawNumericVerdict(finiteValues(ref.records, name), finiteValues(cur.records, name), undefined, policy)
  const decided = rule === 'raw' ? raw : binned
  return {
    type: 'numeric',
    n,
    missing,
    ks: num(raw.metrics.ks),
    ks_p: num(raw.metrics.ks_p),
    ks_method: raw.metrics.ks_method,
    wasserstein: num(raw.metrics.wasserstein),
    ...binnedFields,
    binned_ks: num(m.ks),
    ...chi2Fields,
    drifted: decided.drifted,
    reason: decided.reason,
    drifted_raw: raw.drifted,
    drifted_binned: binned.drifted,
  }
}

/** The values a numeric feature sees (missing ones left out, exactly as the profile counts them). */
function finiteValues(records: readonly Record<string, unknown>[], name: string): number[] {
  const out: number[] = []
  for (const r of records) {
    const x = numericValue(r[name])
    if (x !== undefined) out.push(x)
  }
  return out
}

function checkSameColumns(ref: Dataset, cur: Dataset, ignore: ReadonlySet<string>): void {
  const refCols = new Set(ref.columns)
  const curCols = new Set(cur.columns)
  const absent = ref.columns.filter((c) => !ignore.has(c) && !curCols.has(c))
  if (absent.length > 0)
    throw new EdgefleetError(
      'validation_failed',
      `${cur.file}: missing ${plural(absent.length, 'column')} ${quoteList(absent)} (present in ${ref.file}; --ignore to leave out)`,
    )
  const extra = cur.columns.filter((c) => !ignore.has(c) && !refCols.has(c))
  if (extra.length > 0)
    throw new EdgefleetError(
      'validation_failed',
      `${cur.file}: ${plural(extra.length, 'column')} ${quoteList(extra)} not in ${ref.file} (--ignore to leave out)`,
    )
}

function num(x: number): number | null {
  return Number.isFinite(x) ? x : null
}

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`
}

function quoteList(names: readonly string[]): string {
  return names.map((n) => `"${n}"`).join(', ')
}
