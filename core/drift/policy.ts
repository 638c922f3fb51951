import { EdgefleetError } from '../errors.ts'
import { binIndex } from '../profile/bin.ts'
import { chi2Homogeneity } from '../stats/chi2.ts'
import { assertCounts } from '../stats/counts.ts'
import { ksTwoSample } from '../stats/ks.ts'
import { wassersteinDistance } from '../stats/wasserstein.ts'
import { binnedKs, hellinger, jsDistance, psi } from './binned.ts'

/**
 * The one place drift verdicts are decided (device, edge and CLI). The math lives in ../stats and
 * ./binned.ts; this file only holds thresholds and the rules that combine them. See docs/drift.md.
 */

/** Thresholds of the drift verdicts. Override any subset; the rest come from DEFAULT_DRIFT_POLICY. */
export interface DriftPolicy {
  /** Binned verdict: the chi-squared homogeneity test must reject at p < binnedAlpha … */
  readonly binnedAlpha: number
  /** … and the Jensen–Shannon distance (base 2) must exceed binnedMinJs. */
  readonly binnedMinJs: number
  /** Raw numeric verdict: drifted when the two-sample KS test rejects at p < rawKsAlpha. */
  readonly rawKsAlpha: number
  /** Raw categorical verdict: drifted when the chi-squared test rejects at p < rawChi2Alpha. */
  readonly rawChi2Alpha: number
  /** The raw-sample verdicts apply up to this many reference rows; larger references use the binned verdict. */
  readonly rawMaxReferenceRows: number
  /** Each side needs at least this many observations (and never fewer than one), else `insufficient_data`. */
  readonly minCount: number
}

/** DESIGN.md defaults: binned p < 0.01 AND JS > 0.1; raw KS or chi-squared p < 0.05 up to 1000 reference rows. */
export const DEFAULT_DRIFT_POLICY: DriftPolicy = Object.freeze({
  binnedAlpha: 0.01,
  binnedMinJs: 0.1,
  rawKsAlpha: 0.05,
  rawChi2Alpha: 0.05,
  rawMaxReferenceRows: 1000,
  minCount: 1,
})

/**
 * Fewest observations a device's rolling window needs before it gives a verdict of its own: below it the
 * chi-squared approximation (about 5 expected per bin over a profile's ~20 bins) and the JS distance's
 * noise floor make any verdict noise, so the answer is `insufficient_data`. The fleet, summing many
 * devices, uses DEFAULT_DRIFT_POLICY.
 */
export const LOCAL_MIN_OBSERVATIONS = 100

/** The on-device verdict policy: the defaults, with LOCAL_MIN_OBSERVATIONS. */
export const LOCAL_DRIFT_POLICY: DriftPolicy = Object.freeze({
  ...DEFAULT_DRIFT_POLICY,
  minCount: LOCAL_MIN_OBSERVATIONS,
})

/** Why a verdict came out as it did. */
export type DriftReason = 'drifted' | 'no_drift' | 'insufficient_data'

/** Metrics of one reference/current pair of count vectors; NaN where a side is empty. */
export interface BinnedMetrics {
  psi: number
  js: number
  hellinger: number
  /** KS statistic over the bins (meaningless for unordered categories, reported anyway). */
  ks: number
  chi2: number
  chi2_p: number
  dof: number
}

/** Metrics of raw numeric samples; `binned` when reference edges were given. */
export interface RawNumericMetrics {
  ks: number
  ks_p: number
  ks_method: 'exact' | 'asymp' | null
  wasserstein: number
  binned?: BinnedMetrics
}

/** A verdict with the metrics it was decided on. */
export interface DriftVerdict<M> {
  drifted: boolean
  reason: DriftReason
  metrics: M
}

/** Which verdict applies to a feature with `referenceRows` reference rows: raw samples up to the policy's limit, binned beyond. */
export function verdictKind(
  referenceRows: number,
  policy: Partial<DriftPolicy> = DEFAULT_DRIFT_POLICY,
): 'raw' | 'binned' {
  return referenceRows <= resolvePolicy(policy).rawMaxReferenceRows ? 'raw' : 'binned'
}

/**
 * Binned verdict: drifted when chi-squared homogeneity p < binnedAlpha AND JS distance > binnedMinJs
 * (significance and effect size; DESIGN "Drift metrics and verdicts").
 *
 * @example binnedVerdict(profile.counts, deviceCounts).reason // 'no_drift'
 */
export function binnedVerdict(
  ref: ArrayLike<number>,
  cur: ArrayLike<number>,
  policy: Partial<DriftPolicy> = DEFAULT_DRIFT_POLICY,
): DriftVerdict<BinnedMetrics> {
  const p = resolvePolicy(policy)
  const metrics = binnedMetrics(ref, cur)
  if (tooFew(ref, p) || tooFew(cur, p)) return { drifted: false, reason: 'insufficient_data', metrics }
  const drifted = metrics.chi2_p < p.binnedAlpha && metrics.js > p.binnedMinJs
  return { drifted, reason: drifted ? 'drifted' : 'no_drift', metrics }
}

/**
 * Raw numeric verdict: drifted when the two-sample KS test (scipy ks_2samp, method 'auto') gives
 * p < rawKsAlpha. With the reference's `edges`, binned metrics are reported too (not used to decide).
 */
export function rawNumericVerdict(
  refSample: ArrayLike<number>,
  curSample: ArrayLike<number>,
  edges?: ArrayLike<number>,
  policy: Partial<DriftPolicy> = DEFAULT_DRIFT_POLICY,
): DriftVerdict<RawNumericMetrics> {
  const p = resolvePolicy(policy)
  const binned =
    edges === undefined ? undefined : binnedMetrics(binCounts(refSample, edges), binCounts(curSample, edges))
  if (Math.min(refSample.length, curSample.length) < Math.max(p.minCount, 1)) {
    const metrics: RawNumericMetrics = { ks: Number.NaN, ks_p: Number.NaN, ks_method: null, wasserstein: Number.NaN }
    return {
      drifted: false,
      reason: 'insufficient_data',
      metrics: binned === undefined ? metrics : { ...metrics, binned },
    }
  }
  const ks = ksTwoSample(refSample, curSample)
  const metrics: RawNumericMetrics = {
    ks: ks.statistic,
    ks_p: ks.pvalue,
    ks_method: ks.method,
    wasserstein: wassersteinDistance(refSample, curSample),
  }
  if (binned !== undefined) metrics.binned = binned
  const drifted = ks.pvalue < p.rawKsAlpha
  return { drifted, reason: drifted ? 'drifted' : 'no_drift', metrics }
}

/**
 * Raw categorical verdict: drifted when chi-squared homogeneity on the aligned category counts
 * (same category order on both sides) gives p < rawChi2Alpha.
 */
export function rawCategoricalVerdict(
  refCounts: ArrayLike<number>,
  curCounts: ArrayLike<number>,
  policy: Partial<DriftPolicy> = DEFAULT_DRIFT_POLICY,
): DriftVerdict<BinnedMetrics> {
  const p = resolvePolicy(policy)
  const metrics = binnedMetrics(refCounts, curCounts)
  if (tooFew(refCounts, p) || tooFew(curCounts, p)) return { drifted: false, reason: 'insufficient_data', metrics }
  const drifted = metrics.chi2_p < p.rawChi2Alpha
  return { drifted, reason: drifted ? 'drifted' : 'no_drift', metrics }
}

/** Every binned metric of one pair of count vectors (PSI, JS, Hellinger, binned KS, chi-squared). */
export function binnedMetrics(ref: ArrayLike<number>, cur: ArrayLike<number>): BinnedMetrics {
  assertCounts(ref, cur)
  const chi2 = chi2Homogeneity(ref, cur)
  return {
    psi: psi(ref, cur),
    js: jsDistance(ref, cur),
    hellinger: hellinger(ref, cur),
    ks: binnedKs(ref, cur),
    chi2: chi2.statistic,
    chi2_p: chi2.pvalue,
    dof: chi2.dof,
  }
}

/**
 * p-value equality as DESIGN fixes it: |a − b| ≤ max(1e-6·p, 1e-300) with p the larger of the two,
 * so values that both underflow past 1e-300 compare equal. NaN equals only NaN.
 */
export function pValuesEqual(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b)
  return Math.abs(a - b) <= Math.max(1e-6 * Math.max(a, b), 1e-300)
}

/** The policy with defaults filled in; throws validation_failed on a threshold outside its range. */
function resolvePolicy(overrides: Partial<DriftPolicy>): DriftPolicy {
  const p = { ...DEFAULT_DRIFT_POLICY, ...overrides }
  for (const key of ['binnedAlpha', 'rawKsAlpha', 'rawChi2Alpha'] as const) {
    if (!(p[key] > 0 && p[key] <= 1))
      throw new EdgefleetError('validation_failed', `drift policy ${key} must lie in (0, 1], got ${p[key]}`, {
        pointer: `/${key}`,
      })
  }
  if (!(p.binnedMinJs >= 0 && p.binnedMinJs < 1))
    throw new EdgefleetError('validation_failed', `drift policy binnedMinJs must lie in [0, 1), got ${p.binnedMinJs}`, {
      pointer: '/binnedMinJs',
    })
  for (const key of ['rawMaxReferenceRows', 'minCount'] as const) {
    if (!(Number.isInteger(p[key]) && p[key] >= 0))
      throw new EdgefleetError(
        'validation_failed',
        `drift policy ${key} must be a non-negative integer, got ${p[key]}`,
        { pointer: `/${key}` },
      )
  }
  return p
}

/** Counts of a raw sample in the reference's bins (profile/1 binning; NaN falls in no bin). */
function binCounts(values: ArrayLike<number>, edges: ArrayLike<number>): number[] {
  for (let i = 0; i < edges.length; i++) {
    if (!Number.isFinite(edges[i]) || (i > 0 && !(edges[i] > edges[i - 1]))) {
      throw new EdgefleetError('validation_failed', 'bin edges must be finite and strictly increasing', {
        pointer: `/edges/${i}`,
      })
    }
  }
  const counts = new Array<number>(edges.length + 1).fill(0)
  for (let i = 0; i < values.length; i++) {
    const bin = binIndex(edges, values[i])
    if (bin >= 0) counts[bin]++
  }
  return counts
}

/** An empty side never supports a verdict, whatever minCount says. */
function tooFew(counts: ArrayLike<number>, policy: DriftPolicy): boolean {
  let sum = 0
  for (let i = 0; i < counts.length; i++) sum += counts[i]
  return sum === 0 || sum < policy.minCount
}
