import { binnedVerdict, DEFAULT_DRIFT_POLICY, type DriftPolicy } from '../drift/policy.ts'
import type { Backend } from '../formats/common.ts'
import type { CohortMetrics, DriftSummary, Suppressed } from '../formats/fleet.ts'
import type { FeatureProfile, Profile } from '../formats/profile.ts'
import type { HistogramCounts } from '../profile/histogram.ts'
import type { DDSketch } from '../sketch/DDSketch.ts'
import type { Aggregate } from './aggregate.ts'
import { figuresOf, type Figures } from './figures.ts'
import { qualityView } from './quality.ts'
import { healthView, isHealthEmpty } from './health.ts'
import { estimatedAccuracyOf } from '../estimate/estimated-accuracy.ts'
import { minSampleRate } from './sampling.ts'

/** How a cohort is summarized: the k of k-anonymity, the drift verdict's thresholds, per-device caps. */
export interface SummarizeOptions {
  /** Cohorts with fewer distinct devices are suppressed (default 5). */
  minDevices?: number
  drift?: Partial<DriftPolicy>
  /**
   * The cohort's figures with per-device caps applied (core/telemetry/device-caps.ts), how many
   * devices were capped and the weight cap; default: the aggregate's own figures, nothing capped.
   */
  capped?: CappedFigures
}

/** Figures with per-device caps applied. */
export interface CappedFigures {
  figures: Figures
  devices: number
  /** The weight above which a device was capped; null when no device had a weight. */
  cap: number | null
}

/** Default k: cohorts seen on fewer devices are never shown. */
export const DEFAULT_MIN_DEVICES = 5

/**
 * The fleet metrics of one merged aggregate: rates, latency and load quantiles from the merged
 * sketches, and per feature and output the binned drift metrics and verdict (core/drift) against
 * `profile`; with sampled telemetry, the Horvitz–Thompson estimates of devices, reports, inferences
 * and errors beside the counts received. Suppressed when fewer than `minDevices` distinct devices
 * contributed (devices received, not estimated: k-anonymity is about who sent data). Pure and
 * deterministic: the same aggregate (however it was merged) gives the same summary.
 *
 * @example summarize(mergeAggregates(parts), version.profile, { minDevices: 5 })
 */
export function summarize(
  agg: Aggregate,
  profile: Profile | null,
  options: SummarizeOptions = {},
): CohortMetrics | Suppressed {
  const minDevices = options.minDevices ?? DEFAULT_MIN_DEVICES
  const devices = agg.devices.size
  if (devices < minDevices) return suppressed(minDevices)
  const policy = { ...DEFAULT_DRIFT_POLICY, ...options.drift }
  const features = driftOf(agg.features, profile?.features ?? {}, policy)
  const outputs = driftOf(agg.outputs, profile?.outputs ?? {}, policy)
  const { inferences, errors, loads, cacheHits } = agg.counts
  // Rates, quantiles and estimates weigh each device as its cap allows; counts stay as received.
  const f = options.capped?.figures ?? figuresOf(agg)
  const js = [...Object.values(features), ...Object.values(outputs)]
    .map((d) => d.js)
    .filter((x): x is number => x !== null)
  const backends: CohortMetrics['backends'] = {}
  for (const b of Object.keys(agg.backends).sort() as Backend[]) {
    const n = agg.backends[b] ?? 0
    backends[b] = { inferences: n, share: ratio(f.backends[b] ?? 0, f.inferences) ?? 0 }
  }
  const { compared, agreed } = agg.shadow
  const { labeled, correct } = agg.feedback
  return {
    suppressed: false,
    devices,
    devicesRelativeError: agg.devices.relativeError,
    reports: agg.reports,
    inferences,
    errors,
    errorRate: ratio(f.errors, f.inferences),
    estimated: f.estimated,
    minSampleRate: minSampleRate(agg.sampled),
    latencyMs: f.latency.isEmpty ? null : quantiles(f.latency, [0.5, 0.95, 0.99], ['p50', 'p95', 'p99']),
    loadMs: f.loadMs.isEmpty ? null : quantiles(f.loadMs, [0.5, 0.95], ['p50', 'p95']),
    loads,
    cacheHits,
    cacheHitRate: ratio(f.cacheHits, f.loads),
    backends,
    fallbacks: Object.fromEntries(
      Object.keys(agg.fallbacks)
        .sort()
        .map((k) => [k, agg.fallbacks[k].size]),
    ),
    features,
    outputs,
    drift: {
      features: Object.keys(features).filter((k) => features[k].drifted),
      outputs: Object.keys(outputs).filter((k) => outputs[k].drifted),
      maxJs: js.length > 0 ? Math.max(...js) : null,
    },
    shadow:
      compared > 0
        ? { compared, agreed, agreement: ratio(f.agreed, f.compared), meanAbsDiff: meanOf(f.absDiffSum, f.compared) }
        : null,
    feedback: labeled > 0 ? { labeled, correct, accuracy: ratio(f.correct, f.labeled) } : null,
    estimatedAccuracy: estimatedAccuracyOf(f, profile?.calibration),
    ...(Object.keys(agg.quality).length > 0 ? { quality: qualityView(agg.quality) } : {}),
    ...(isHealthEmpty(agg.health) ? {} : { health: healthView(agg.health, loads) }),
    cappedDevices: options.capped?.devices ?? 0,
    deviceCap: options.capped?.cap ?? null,
  }
}

function meanOf(sum: number, n: number): number | null {
  return n > 0 ? sum / n : null
}

/** The body of a suppressed cohort or point. */
export function suppressed(minDevices: number): Suppressed {
  return { suppressed: true, reason: 'fewer_than_min_devices', minDevices }
}

/**
 * `num / den` as a share in [0, 1], or null when `den` is 0. Errors include failed loads, which have
 * no inference, so an error rate could pass 1: it reads 1.
 */
export function ratio(num: number, den: number): number | null {
  return den > 0 ? Math.min(1, num / den) : null
}

/** Named quantiles of a non-empty sketch. */
export function quantiles<K extends string>(sketch: DDSketch, qs: number[], names: K[]): Record<K, number> {
  return Object.fromEntries(names.map((name, i) => [name, sketch.quantile(qs[i])])) as Record<K, number>
}

function driftOf(
  current: Record<string, HistogramCounts>,
  reference: Record<string, FeatureProfile>,
  policy: DriftPolicy,
): Record<string, DriftSummary> {
  const out: Record<string, DriftSummary> = {}
  for (const name of Object.keys(current).sort()) {
    const cur = current[name]
    const n = cur.counts.reduce((a, b) => a + b, 0)
    const ref = reference[name]
    if (ref === undefined || ref.counts.length !== cur.counts.length) {
      out[name] = {
        n,
        missing: cur.missing,
        counts: [...cur.counts],
        psi: null,
        js: null,
        hellinger: null,
        ks: null,
        chi2: null,
        chi2_p: null,
        dof: 0,
        drifted: false,
        reason: 'no_reference',
      }
      continue
    }
    const v = binnedVerdict(ref.counts, cur.counts, policy)
    const m = v.metrics
    out[name] = {
      n,
      missing: cur.missing,
      counts: [...cur.counts],
      psi: finite(m.psi),
      js: finite(m.js),
      hellinger: finite(m.hellinger),
      ks: finite(m.ks),
      chi2: finite(m.chi2),
      chi2_p: finite(m.chi2_p),
      dof: m.dof,
      drifted: v.drifted,
      reason: v.reason,
    }
  }
  return out
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null
}
