import { EdgefleetError } from '../errors.ts'
import type { Backend } from '../formats/common.ts'
import type { CalibratedSums } from '../formats/calibrated.ts'
import type { FeatureQuality } from '../formats/quality.ts'
import type { SketchJson } from '../formats/sketch.ts'
import { FALLBACK_REASONS, type Report } from '../formats/telemetry.ts'
import { jsonPointer } from '../json-pointer.ts'
import type { HistogramCounts } from '../profile/histogram.ts'
import { DDSketch } from '../sketch/DDSketch.ts'
import { parseSketch } from '../sketch/parse.ts'
import { StoredAggregate } from './aggregate-json.ts'
import { DeviceSet, type DeviceSetJson } from './device-set.ts'
import { addCount } from './saturating.ts'
import { emptyQuality, mergeQuality, mergeQualityMaps } from './quality.ts'
import type { HealthCounts } from '../formats/health.ts'
import { emptyHealth, isHealthEmpty, mergeHealth } from './health.ts'
import { emptyCalibrated, mergeCalibrated } from '../estimate/estimated-accuracy.ts'
import {
  countsByLowestRate,
  decodeRatePart,
  emptyRatePart,
  encodeRatePart,
  estimateTotals,
  mergeRatePart,
  rateKey,
  rateOf,
  ratesAscending,
  type RatePart,
  type RatePartJson,
  type Totals,
} from './sampling.ts'

/**
 * The mergeable fleet aggregate of `telemetry/1` reports: what a shard keeps per (version, role,
 * rollout, arm, minute or hour) and what fleet reads and rollout guardrails merge. Every integer
 * field and every histogram is an exact sum and the device sets union exactly (or as one
 * HyperLogLog), so merging is associative and commutative; the float fields (`latency.sum`,
 * `loadMs.sum`, `shadow.absDiffSum`) agree across merge orders up to rounding. Every field counts
 * what arrived; `sampled` keeps what arrived under sample rates below 1, from which `estimatesOf`
 * scales the totals to the whole fleet (core/telemetry/sampling.ts).
 *
 * @example
 * const agg = emptyAggregate()
 * addReport(agg, report, deviceKey(batch.device.id), batch.sampleRate)
 * const fleet = mergeAggregates([shardA, shardB])
 */
export interface Aggregate {
  /** Reports counted (device-windows). */
  reports: number
  devices: DeviceSet
  counts: { inferences: number; errors: number; cacheHits: number; loads: number }
  latency: DDSketch
  loadMs: DDSketch
  /** Inferences per backend that ran them. */
  backends: Partial<Record<Backend, number>>
  /** Devices per `backend:reason` of a backend that fell back. */
  fallbacks: Record<string, DeviceSet>
  /** Histograms on the version profile's bins (exact integer sums). */
  features: Record<string, HistogramCounts>
  outputs: Record<string, HistogramCounts>
  /** Shadow comparisons; `absDiffSum` = Σ meanAbsDiff × compared, so the mean survives merging. */
  shadow: { compared: number; agreed: number; absDiffSum: number }
  feedback: { labeled: number; correct: number }
  /** Data-quality counts per input feature (core/telemetry/quality.ts), exact sums. */
  quality: Record<string, FeatureQuality>
  /** Calibrated-confidence sums (core/estimate/estimated-accuracy.ts): exact, on the 2^-20 grid. */
  calibrated: CalibratedSums
  /** Device health counts (core/telemetry/health.ts), exact sums. */
  health: HealthCounts
  /**
   * Per sample rate below 1 (key: `rateKey(rate)`), what arrived under it, exactly; reports at rate 1
   * are the rest. Empty for a fleet that does not sample.
   */
  sampled: Record<string, RatePart>
}

/** An aggregate as stored (SQLite) and sent over RPC: plain JSON, keys sorted. */
export interface AggregateJson {
  v: 1
  reports: number
  devices: DeviceSetJson
  counts: Aggregate['counts']
  latency: SketchJson
  loadMs: SketchJson
  backends: Partial<Record<Backend, number>>
  fallbacks: Record<string, DeviceSetJson>
  features: Record<string, HistogramCounts>
  outputs: Record<string, HistogramCounts>
  shadow: Aggregate['shadow']
  feedback: Aggregate['feedback']
  /** Absent when no report carried data-quality counts. */
  quality?: Record<string, FeatureQuality>
  /** Absent when no report carried calibrated confidences. */
  calibrated?: CalibratedSums
  /** Absent when no report counted a health event. */
  health?: HealthCounts
  /** Absent when nothing was sampled (and in cells stored before rates were kept: all rate 1). */
  sampled?: Record<string, RatePartJson>
}

/** An aggregate of nothing: the identity of `mergeAggregates`. */
export function emptyAggregate(): Aggregate {
  return {
    reports: 0,
    devices: new DeviceSet(),
    counts: { inferences: 0, errors: 0, cacheHits: 0, loads: 0 },
    latency: new DDSketch(),
    loadMs: new DDSketch(),
    backends: {},
    fallbacks: {},
    features: {},
    outputs: {},
    shadow: { compared: 0, agreed: 0, absDiffSum: 0 },
    feedback: { labeled: 0, correct: 0 },
    quality: {},
    calibrated: emptyCalibrated(),
    health: emptyHealth(),
    sampled: {},
  }
}

/**
 * Adds one report of the device with key `device` (see `deviceKey`), sent in a batch sampled at
 * `sampleRate`, into `agg` and returns `agg`. All or nothing: throws `validation_failed`, leaving
 * `agg` unchanged, when the rate is outside (0, 1], a sketch is malformed, or the report cannot merge
 * into `agg` (see `mergeInto`). The report's counts are trusted as given: hold it to telemetry/1
 * (`Report`, with its bounds) first.
 */
export function addReport(agg: Aggregate, report: Report, device: number, sampleRate = 1): Aggregate {
  return mergeInto(agg, reportAggregate(report, device, sampleRate))
}

/** The aggregate of one report alone (see `addReport`); throws `validation_failed` on a bad rate or sketch. */
export function reportAggregate(report: Report, device: number, sampleRate = 1): Aggregate {
  if (!(sampleRate > 0 && sampleRate <= 1))
    throw new EdgefleetError('validation_failed', `a sample rate must be in (0, 1], got ${sampleRate}`, {
      pointer: '/sampleRate',
    })
  const agg = emptyAggregate()
  agg.latency = parseSketch(report.latency)
  agg.loadMs = parseSketch(report.loadMs)
  agg.reports = 1
  agg.devices.add(device)
  const c = report.counts
  agg.counts = { inferences: c.inferences, errors: c.errors, cacheHits: c.cacheHits, loads: c.loads }
  agg.backends[report.backend] = c.inferences
  for (const [backend, reason] of Object.entries(report.fallbacks ?? {}))
    agg.fallbacks[`${backend}:${FALLBACK_REASONS.has(reason) ? reason : 'other'}`] = new DeviceSet().add(device)
  addHistograms(agg.features, report.features ?? {})
  addHistograms(agg.outputs, report.outputs ?? {})
  if (report.shadow) {
    const { compared, agreed, meanAbsDiff } = report.shadow
    agg.shadow = { compared, agreed, absDiffSum: meanAbsDiff * compared }
  }
  if (report.feedback) agg.feedback = { labeled: report.feedback.labeled, correct: report.feedback.correct }
  if (report.quality) agg.quality = mergeQualityMaps({}, report.quality)
  if (report.calibrated) agg.calibrated = { ...report.calibrated }
  if (report.health) agg.health = mergeHealth(emptyHealth(), report.health)
  if (sampleRate < 1) {
    const part = emptyRatePart()
    part.reports = 1
    part.inferences = c.inferences
    part.errors = c.errors
    part.devices.add(device)
    agg.sampled[rateKey(sampleRate)] = part
  }
  return agg
}

/**
 * Merges `source` into `target` and returns `target`; `source` is left unchanged. All or nothing:
 * `checkMergeable` runs first (throwing `validation_failed` with `target` untouched), and nothing
 * after it can fail: counts add with saturation at 2^53 − 1 (core/telemetry/saturating.ts) and
 * sketches downscale rather than overflow.
 */
export function mergeInto(target: Aggregate, source: Aggregate): Aggregate {
  checkMergeable(target, source)
  target.reports = addCount(target.reports, source.reports)
  target.devices.union(source.devices)
  for (const k of ['inferences', 'errors', 'cacheHits', 'loads'] as const)
    target.counts[k] = addCount(target.counts[k], source.counts[k])
  target.latency.merge(source.latency)
  target.loadMs.merge(source.loadMs)
  for (const [b, n] of Object.entries(source.backends) as [Backend, number][])
    target.backends[b] = addCount(target.backends[b] ?? 0, n)
  for (const [k, set] of Object.entries(source.fallbacks)) (target.fallbacks[k] ??= new DeviceSet()).union(set)
  addHistograms(target.features, source.features)
  addHistograms(target.outputs, source.outputs)
  target.shadow.compared = addCount(target.shadow.compared, source.shadow.compared)
  target.shadow.agreed = addCount(target.shadow.agreed, source.shadow.agreed)
  target.shadow.absDiffSum += source.shadow.absDiffSum
  target.feedback.labeled = addCount(target.feedback.labeled, source.feedback.labeled)
  target.feedback.correct = addCount(target.feedback.correct, source.feedback.correct)
  for (const [k, q] of Object.entries(source.quality))
    target.quality[k] = mergeQuality(target.quality[k] ?? emptyQuality(), q)
  target.calibrated = mergeCalibrated(target.calibrated, source.calibrated)
  mergeHealth(target.health, source.health)
  for (const [k, part] of Object.entries(source.sampled)) mergeRatePart((target.sampled[k] ??= emptyRatePart()), part)
  return target
}

/** A new aggregate holding every one of `aggs` (none: the empty aggregate); the inputs are left unchanged. */
export function mergeAggregates(aggs: Iterable<Aggregate>): Aggregate {
  const out = emptyAggregate()
  for (const a of aggs) mergeInto(out, a)
  return out
}

/** The stored form of an aggregate (deterministic: keys and device keys sorted). */
export function encodeAggregate(agg: Aggregate): AggregateJson {
  return {
    v: 1,
    reports: agg.reports,
    devices: agg.devices.toJSON(),
    counts: { ...agg.counts },
    latency: agg.latency.toJSON(),
    loadMs: agg.loadMs.toJSON(),
    backends: sortKeys(agg.backends),
    fallbacks: Object.fromEntries(
      Object.keys(agg.fallbacks)
        .sort()
        .map((k) => [k, agg.fallbacks[k].toJSON()]),
    ),
    features: sortKeys(agg.features, copyHistogram),
    outputs: sortKeys(agg.outputs, copyHistogram),
    shadow: { ...agg.shadow },
    feedback: { ...agg.feedback },
    ...(Object.keys(agg.quality).length > 0 ? { quality: sortKeys(agg.quality, (q) => ({ ...q })) } : {}),
    ...(agg.calibrated.count > 0 ? { calibrated: { ...agg.calibrated } } : {}),
    ...(isHealthEmpty(agg.health) ? {} : { health: { ...agg.health } }),
    ...(Object.keys(agg.sampled).length > 0
      ? { sampled: Object.fromEntries(ratesAscending(agg.sampled).map((k) => [k, encodeRatePart(agg.sampled[k])])) }
      : {}),
  }
}

/**
 * Rebuilds an aggregate from `encodeAggregate`, checked first (`StoredAggregate`: the shape and the
 * relations reports within telemetry/1's bounds keep); throws `validation_failed` on anything else, a
 * malformed sketch, device set or rate key included. Stored data is never trusted blindly: a read
 * leaves such a cell out rather than failing on it.
 */
export function decodeAggregate(json: AggregateJson): Aggregate {
  const checked = StoredAggregate.safeParse(json)
  if (!checked.success) {
    const issue = checked.error.issues[0]
    throw new EdgefleetError('validation_failed', `a stored aggregate is invalid: ${issue?.message ?? 'malformed'}`, {
      pointer: issue ? jsonPointer(issue.path) : '',
      cause: checked.error,
    })
  }
  try {
    return buildAggregate(json)
  } catch (cause) {
    throw new EdgefleetError('validation_failed', `a stored aggregate is invalid: ${String(cause)}`, { cause })
  }
}

function buildAggregate(json: AggregateJson): Aggregate {
  return {
    reports: json.reports,
    devices: DeviceSet.fromJSON(json.devices),
    counts: { ...json.counts },
    latency: parseSketch(json.latency),
    loadMs: parseSketch(json.loadMs),
    backends: { ...json.backends },
    fallbacks: Object.fromEntries(Object.entries(json.fallbacks).map(([k, s]) => [k, DeviceSet.fromJSON(s)])),
    features: Object.fromEntries(Object.entries(json.features).map(([k, h]) => [k, copyHistogram(h)])),
    outputs: Object.fromEntries(Object.entries(json.outputs).map(([k, h]) => [k, copyHistogram(h)])),
    shadow: { ...json.shadow },
    feedback: { ...json.feedback },
    quality: Object.fromEntries(Object.entries(json.quality ?? {}).map(([k, q]) => [k, { ...q }])),
    calibrated: json.calibrated ? { ...json.calibrated } : emptyCalibrated(),
    health: json.health ? { ...json.health } : emptyHealth(),
    sampled: Object.fromEntries(
      Object.entries(json.sampled ?? {}).map(([k, p]) => [rateKey(rateOf(k)), decodeRatePart(p)]),
    ),
  }
}

/**
 * Horvitz–Thompson estimates of the whole fleet's devices, reports, inferences and errors (each
 * report weighted 1/sampleRate, each distinct device once at its lowest rate), or null when every
 * report arrived at rate 1. Computed from exact sums, so equal however the aggregate was merged.
 */
export function estimatesOf(agg: Aggregate): Totals | null {
  const received = {
    devices: agg.devices.size,
    reports: agg.reports,
    inferences: agg.counts.inferences,
    errors: agg.counts.errors,
  }
  return estimateTotals(received, countsByLowestRate(agg.sampled))
}

/**
 * Throws `validation_failed` when `source` cannot merge into `target`: sketch alpha or histogram bins
 * differ, or a float sum (latency, load time, shadow differences) would leave the finite numbers.
 */
export function checkMergeable(target: Aggregate, source: Aggregate): void {
  assertMergeable(target, source.latency.alpha, source.loadMs.alpha, source.features, source.outputs)
  if (
    !target.latency.canMerge(source.latency) ||
    !target.loadMs.canMerge(source.loadMs) ||
    !(target.shadow.absDiffSum + source.shadow.absDiffSum < Infinity)
  )
    throw new EdgefleetError('validation_failed', 'a float sum of the aggregate would overflow')
}

function assertMergeable(
  agg: Aggregate,
  latencyAlpha: number,
  loadAlpha: number,
  features: Record<string, HistogramCounts>,
  outputs: Record<string, HistogramCounts>,
): void {
  if (latencyAlpha !== agg.latency.alpha || loadAlpha !== agg.loadMs.alpha)
    throw new EdgefleetError(
      'validation_failed',
      `sketch alpha ${latencyAlpha}/${loadAlpha} cannot merge into ${agg.latency.alpha}`,
    )
  for (const [side, have, add] of [
    ['features', agg.features, features],
    ['outputs', agg.outputs, outputs],
  ] as const) {
    for (const [name, h] of Object.entries(add)) {
      const bins = have[name]?.counts.length
      if (bins !== undefined && bins !== h.counts.length)
        throw new EdgefleetError(
          'validation_failed',
          `${side} ${name}: ${h.counts.length} bins cannot merge into ${bins}`,
          { pointer: `/${side}/${jsonPointer([name]).slice(1)}` },
        )
    }
  }
}

/** Adds histograms bin by bin (saturating); bins were checked to agree (`assertMergeable`). */
function addHistograms(target: Record<string, HistogramCounts>, source: Record<string, HistogramCounts>): void {
  for (const [name, h] of Object.entries(source)) {
    const have = target[name]
    if (have === undefined) target[name] = copyHistogram(h)
    else
      target[name] = {
        counts: have.counts.map((c, i) => addCount(c, h.counts[i])),
        missing: addCount(have.missing, h.missing),
      }
  }
}

function copyHistogram(h: HistogramCounts): HistogramCounts {
  return { counts: [...h.counts], missing: h.missing }
}

function sortKeys<T, U = T>(
  record: Partial<Record<string, T>>,
  map: (v: T) => U = (v) => v as unknown as U,
): Record<string, U> {
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((k) => [k, map(record[k] as T)]),
  )
}
