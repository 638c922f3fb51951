/**
 * @module
 * The lean aggregate kept per (cell, dimension, slice value): distinct devices, reports, inferences,
 * errors, labels and a latency sketch; no histograms. Merging is exact (sums, device-set union,
 * sketch merge), associative and commutative, so shards, minutes and hours add up in any order.
 */
import { SliceAggregateJson, type SliceMetrics } from '../formats/slices.ts'
import type { Report } from '../formats/telemetry.ts'
import { DDSketch } from '../sketch/DDSketch.ts'
import { parseSketch } from '../sketch/parse.ts'
import { DeviceSet } from './device-set.ts'
import type { HealthCounts } from '../formats/health.ts'
import { emptyHealth, healthView, isHealthEmpty, mergeHealth } from './health.ts'
import { addCount } from './saturating.ts'

/** One slice's sums. */
export interface SliceAggregate {
  devices: DeviceSet
  reports: number
  inferences: number
  errors: number
  labeled: number
  correct: number
  latency: DDSketch
  loads: number
  health: HealthCounts
}

/** An aggregate of nothing. */
export function emptySliceAggregate(): SliceAggregate {
  return {
    devices: new DeviceSet(),
    reports: 0,
    inferences: 0,
    errors: 0,
    labeled: 0,
    correct: 0,
    latency: new DDSketch(),
    loads: 0,
    health: emptyHealth(),
  }
}

/**
 * Adds one report of a device (by its device key). `latency` is the report's latency sketch when the
 * caller already parsed it (one report feeds a slice of every dimension: parse once, merge four times).
 */
export function addSliceReport(
  agg: SliceAggregate,
  r: Report,
  device: number,
  latency: DDSketch = parseSketch(r.latency),
): SliceAggregate {
  agg.devices.add(device)
  agg.reports++
  agg.inferences += r.counts.inferences
  agg.errors += r.counts.errors
  agg.labeled += r.feedback?.labeled ?? 0
  agg.correct += r.feedback?.correct ?? 0
  agg.latency.merge(latency)
  agg.loads = addCount(agg.loads, r.counts.loads)
  if (r.health) mergeHealth(agg.health, r.health)
  return agg
}

/** Adds `other` into `into`. */
export function mergeSliceInto(into: SliceAggregate, other: SliceAggregate): SliceAggregate {
  into.devices.union(other.devices)
  into.reports += other.reports
  into.inferences += other.inferences
  into.errors += other.errors
  into.labeled += other.labeled
  into.correct += other.correct
  into.latency.merge(other.latency)
  into.loads = addCount(into.loads, other.loads)
  mergeHealth(into.health, other.health)
  return into
}

/** The stored form. */
export function encodeSliceAggregate(a: SliceAggregate): SliceAggregateJson {
  return {
    devices: a.devices.toJSON(),
    reports: a.reports,
    inferences: a.inferences,
    errors: a.errors,
    labeled: a.labeled,
    correct: a.correct,
    latency: a.latency.toJSON(),
    ...(a.loads > 0 ? { loads: a.loads } : {}),
    ...(isHealthEmpty(a.health) ? {} : { health: { ...a.health } }),
  }
}

/** Decodes a stored form; throws on a malformed one (the reader leaves it out). */
export function decodeSliceAggregate(json: unknown): SliceAggregate {
  const j = SliceAggregateJson.parse(json)
  return {
    devices: DeviceSet.fromJSON(j.devices),
    reports: j.reports,
    inferences: j.inferences,
    errors: j.errors,
    labeled: j.labeled,
    correct: j.correct,
    latency: parseSketch(j.latency),
    loads: j.loads ?? 0,
    health: j.health ? { ...j.health } : emptyHealth(),
  }
}

/** A slice's metrics, or `suppressed` when fewer than `minDevices` distinct devices contributed. */
export function summarizeSlice(
  a: SliceAggregate,
  minDevices: number,
): SliceMetrics | { suppressed: true; reason: 'fewer_than_min_devices'; minDevices: number } {
  const devices = Math.round(a.devices.size)
  if (devices < minDevices) return { suppressed: true, reason: 'fewer_than_min_devices', minDevices }
  const q = (p: number) => a.latency.quantile(p)
  return {
    suppressed: false,
    devices,
    reports: a.reports,
    inferences: a.inferences,
    errors: a.errors,
    errorRate: a.inferences > 0 ? a.errors / a.inferences : null,
    latencyMs: a.latency.count > 0 ? { p50: q(0.5), p95: q(0.95), p99: q(0.99) } : null,
    feedback:
      a.labeled > 0 ? { labeled: a.labeled, correct: a.correct, accuracy: Math.min(1, a.correct / a.labeled) } : null,
    ...(isHealthEmpty(a.health) ? {} : { health: healthView(a.health, a.loads) }),
  }
}
