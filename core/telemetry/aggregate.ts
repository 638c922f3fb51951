import { EdgefleetError } from '../errors.ts'
import type { Backend } from '../formats/common.ts'
import type { SketchJson } from '../formats/sketch.ts'
import type { Report } from '../formats/telemetry.ts'
import { jsonPointer } from '../json-pointer.ts'
import { mergeHistograms, type HistogramCounts } from '../profile/histogram.ts'
import { DDSketch } from '../sketch/DDSketch.ts'
import { DeviceSet, type DeviceSetJson } from './device-set.ts'

/**
 * The mergeable fleet aggregate of `telemetry/1` reports: what a shard keeps per (version, role,
 * rollout, arm, minute or hour) and what fleet reads and rollout guardrails merge. Every integer
 * field and every histogram is an exact sum and the device sets union exactly (or as one
 * HyperLogLog), so merging is associative and commutative; the float fields (`latency.sum`,
 * `loadMs.sum`, `shadow.absDiffSum`) agree across merge orders up to rounding.
 *
 * @example
 * const agg = emptyAggregate()
 * addReport(agg, report, deviceKey(batch.device.id))
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
  }
}

/**
 * Adds one report of the device with key `device` (see `deviceKey`) into `agg` and returns `agg`.
 * All or nothing: throws `validation_failed`, leaving `agg` unchanged, when a sketch is malformed or
 * its alpha or a histogram's bins differ from what `agg` holds.
 */
export function addReport(agg: Aggregate, report: Report, device: number): Aggregate {
  const latency = DDSketch.fromJSON(report.latency)
  const loadMs = DDSketch.fromJSON(report.loadMs)
  assertMergeable(agg, latency.alpha, loadMs.alpha, report.features ?? {}, report.outputs ?? {})
  agg.latency.merge(latency)
  agg.loadMs.merge(loadMs)
  agg.reports += 1
  agg.devices.add(device)
  const c = report.counts
  agg.counts.inferences += c.inferences
  agg.counts.errors += c.errors
  agg.counts.cacheHits += c.cacheHits
  agg.counts.loads += c.loads
  agg.backends[report.backend] = (agg.backends[report.backend] ?? 0) + c.inferences
  for (const [backend, reason] of Object.entries(report.fallbacks ?? {})) {
    const key = `${backend}:${reason}`
    ;(agg.fallbacks[key] ??= new DeviceSet()).add(device)
  }
  addHistograms(agg.features, report.features ?? {})
  addHistograms(agg.outputs, report.outputs ?? {})
  if (report.shadow) {
    agg.shadow.compared += report.shadow.compared
    agg.shadow.agreed += report.shadow.agreed
    agg.shadow.absDiffSum += report.shadow.meanAbsDiff * report.shadow.compared
  }
  if (report.feedback) {
    agg.feedback.labeled += report.feedback.labeled
    agg.feedback.correct += report.feedback.correct
  }
  return agg
}

/** Merges `source` into `target` and returns `target`; all or nothing (as `addReport`); `source` is left unchanged. */
export function mergeInto(target: Aggregate, source: Aggregate): Aggregate {
  assertMergeable(target, source.latency.alpha, source.loadMs.alpha, source.features, source.outputs)
  target.reports += source.reports
  target.devices.union(source.devices)
  for (const k of ['inferences', 'errors', 'cacheHits', 'loads'] as const) target.counts[k] += source.counts[k]
  target.latency.merge(source.latency)
  target.loadMs.merge(source.loadMs)
  for (const [b, n] of Object.entries(source.backends) as [Backend, number][]) target.backends[b] = (target.backends[b] ?? 0) + n
  for (const [k, set] of Object.entries(source.fallbacks)) (target.fallbacks[k] ??= new DeviceSet()).union(set)
  addHistograms(target.features, source.features)
  addHistograms(target.outputs, source.outputs)
  target.shadow.compared += source.shadow.compared
  target.shadow.agreed += source.shadow.agreed
  target.shadow.absDiffSum += source.shadow.absDiffSum
  target.feedback.labeled += source.feedback.labeled
  target.feedback.correct += source.feedback.correct
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
    fallbacks: Object.fromEntries(Object.keys(agg.fallbacks).sort().map((k) => [k, agg.fallbacks[k].toJSON()])),
    features: sortKeys(agg.features, copyHistogram),
    outputs: sortKeys(agg.outputs, copyHistogram),
    shadow: { ...agg.shadow },
    feedback: { ...agg.feedback },
  }
}

/** Rebuilds an aggregate from `encodeAggregate`; throws on a malformed sketch or device set. */
export function decodeAggregate(json: AggregateJson): Aggregate {
  return {
    reports: json.reports,
    devices: DeviceSet.fromJSON(json.devices),
    counts: { ...json.counts },
    latency: DDSketch.fromJSON(json.latency),
    loadMs: DDSketch.fromJSON(json.loadMs),
    backends: { ...json.backends },
    fallbacks: Object.fromEntries(Object.entries(json.fallbacks).map(([k, s]) => [k, DeviceSet.fromJSON(s)])),
    features: Object.fromEntries(Object.entries(json.features).map(([k, h]) => [k, copyHistogram(h)])),
    outputs: Object.fromEntries(Object.entries(json.outputs).map(([k, h]) => [k, copyHistogram(h)])),
    shadow: { ...json.shadow },
    feedback: { ...json.feedback },
  }
}

/** Throws `validation_failed` when `source` cannot merge into `target` (sketch alpha or histogram bins differ). */
export function checkMergeable(target: Aggregate, source: Aggregate): void {
  assertMergeable(target, source.latency.alpha, source.loadMs.alpha, source.features, source.outputs)
}

function assertMergeable(
  agg: Aggregate,
  latencyAlpha: number,
  loadAlpha: number,
  features: Record<string, HistogramCounts>,
  outputs: Record<string, HistogramCounts>,
): void {
  if (latencyAlpha !== agg.latency.alpha || loadAlpha !== agg.loadMs.alpha)
    throw new EdgefleetError('validation_failed', `sketch alpha ${latencyAlpha}/${loadAlpha} cannot merge into ${agg.latency.alpha}`)
  for (const [side, have, add] of [['features', agg.features, features], ['outputs', agg.outputs, outputs]] as const) {
    for (const [name, h] of Object.entries(add)) {
      const bins = have[name]?.counts.length
      if (bins !== undefined && bins !== h.counts.length)
        throw new EdgefleetError('validation_failed', `${side} ${name}: ${h.counts.length} bins cannot merge into ${bins}`, { pointer: `/${side}/${jsonPointer([name]).slice(1)}` })
    }
  }
}

function addHistograms(target: Record<string, HistogramCounts>, source: Record<string, HistogramCounts>): void {
  for (const [name, h] of Object.entries(source)) {
    const have = target[name]
    target[name] = have === undefined ? copyHistogram(h) : mergeHistograms(have, h)
  }
}

function copyHistogram(h: HistogramCounts): HistogramCounts {
  return { counts: [...h.counts], missing: h.missing }
}

function sortKeys<T, U = T>(record: Partial<Record<string, T>>, map: (v: T) => U = (v) => v as unknown as U): Record<string, U> {
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((k) => [k, map(record[k] as T)]),
  )
}
