import { DeviceSet, type DeviceSetJson } from './device-set.ts'
import { addCount } from './saturating.ts'

/**
 * Horvitz–Thompson scaling of sampled telemetry. The SDK reports a loaded model with probability
 * `sampleRate` (one draw per device and model load) and every batch carries the rate, so a received
 * report stands for 1/sampleRate reports: Ŷ = Σ_i y_i / π_i over what arrived, π_i the inclusion
 * probability (Horvitz & Thompson, JASA 47(260), 1952), unbiased for totals.
 *
 * Aggregates keep, per sample rate below 1, what arrived under it as exact integers and a device
 * set (`RatePart`); rate 1 is implicit (everything else). Merging those is exact, associative and
 * commutative, and the estimates are computed from them only when read, dividing each integer sum
 * once by its rate in ascending rate order: whatever the merge order, the same estimate to the bit.
 *
 * Distinct devices are estimated as Σ over distinct devices of 1/rate, each device counted once at
 * the lowest rate it reported under (devices that changed rate inside the range weigh the most they
 * could). See docs/telemetry.md, "Sampled telemetry".
 */

/** What arrived under one sample rate below 1: exact counts and the devices that sent them. */
export interface RatePart {
  reports: number
  inferences: number
  errors: number
  devices: DeviceSet
}

/** A `RatePart` as stored and sent over RPC. */
export interface RatePartJson {
  reports: number
  inferences: number
  errors: number
  devices: DeviceSetJson
}

/** A rate part with its devices already counted (series points carry counts, not sets). */
export interface RateCounts {
  reports: number
  inferences: number
  errors: number
  /** Devices whose lowest rate in the bucket is this one (so counts of disjoint shards add up). */
  devices: number
}

/** Totals: what arrived, or what the whole fleet is estimated to have done. */
export interface Totals {
  devices: number
  reports: number
  inferences: number
  errors: number
}

const KEYS = ['reports', 'inferences', 'errors'] as const

/** The key of a rate in `Aggregate.sampled`: the number as JSON writes it (round-trips exactly). */
export function rateKey(rate: number): string {
  return String(rate)
}

/** The rate of a key, or a TypeError for a key that is not a rate in (0, 1). */
export function rateOf(key: string): number {
  const rate = Number(key)
  if (!(rate > 0 && rate < 1) || rateKey(rate) !== key)
    throw new TypeError(`a sampled rate key must be a number in (0, 1), got ${JSON.stringify(key)}`)
  return rate
}

/** The keys of `sampled`, lowest rate first. */
export function ratesAscending(sampled: Record<string, unknown>): string[] {
  return Object.keys(sampled).sort((a, b) => Number(a) - Number(b))
}

/** The lowest sample rate among `sampled` (keys of rates below 1), or 1 when nothing was sampled. */
export function minSampleRate(sampled: Record<string, unknown>): number {
  const [lowest] = ratesAscending(sampled)
  return lowest === undefined ? 1 : Number(lowest)
}

/** An empty rate part. */
export function emptyRatePart(): RatePart {
  return { reports: 0, inferences: 0, errors: 0, devices: new DeviceSet() }
}

/** Adds `source` into `target` (integers summed with saturation, devices unioned) and returns `target`. */
export function mergeRatePart(target: RatePart, source: RatePart): RatePart {
  for (const k of KEYS) target[k] = addCount(target[k], source[k])
  target.devices.union(source.devices)
  return target
}

/** The stored form of a rate part. */
export function encodeRatePart(p: RatePart): RatePartJson {
  return { reports: p.reports, inferences: p.inferences, errors: p.errors, devices: p.devices.toJSON() }
}

/** Rebuilds a rate part from `encodeRatePart`. */
export function decodeRatePart(json: RatePartJson): RatePart {
  return {
    reports: json.reports,
    inferences: json.inferences,
    errors: json.errors,
    devices: DeviceSet.fromJSON(json.devices),
  }
}

/**
 * Per rate, the counts with each device counted once at the lowest rate it reported under: the
 * lowest rate keeps its devices, the next one only the devices not seen at a lower rate (|U_k| −
 * |U_k−1| over the growing union U, clamped at 0 where HyperLogLog estimates make it dip).
 */
export function countsByLowestRate(sampled: Record<string, RatePart>): Record<string, RateCounts> {
  const seen = new DeviceSet()
  const out: Record<string, RateCounts> = {}
  for (const key of ratesAscending(sampled)) {
    const p = sampled[key]
    const before = seen.size
    seen.union(p.devices)
    out[key] = {
      reports: p.reports,
      inferences: p.inferences,
      errors: p.errors,
      devices: Math.max(0, seen.size - before),
    }
  }
  return out
}

/**
 * Horvitz–Thompson totals from what arrived (`received`, every rate) and the part of it that came
 * under each rate below 1 (`sampled`, devices by lowest rate): Σ_r x_r / r + (x − Σ_r x_r). Null when
 * nothing was sampled: the received totals are then the totals.
 */
export function estimateTotals(received: Totals, sampled: Record<string, RateCounts>): Totals | null {
  const keys = ratesAscending(sampled)
  if (keys.length === 0) return null
  const estimated: Totals = { devices: 0, reports: 0, inferences: 0, errors: 0 }
  const atFullRate = { ...received }
  for (const key of keys) {
    const rate = Number(key)
    for (const k of ['devices', ...KEYS] as const) {
      estimated[k] += sampled[key][k] / rate
      atFullRate[k] -= sampled[key][k]
    }
  }
  for (const k of ['devices', ...KEYS] as const) estimated[k] += Math.max(0, atFullRate[k])
  return estimated
}
