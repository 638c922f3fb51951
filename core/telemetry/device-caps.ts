import type { Report } from '../formats/telemetry.ts'
import type { DDSketch } from '../sketch/DDSketch.ts'

/**
 * Per-device contribution caps. A device's weight in a cohort over a range is what it reported:
 * inferences + errors + loads + labels (`reportWeight`, summed over its reports). No device weighs
 * more in a fleet statistic than `DEVICE_CAP_FACTOR` times the median device of its cohort and range:
 * a heavier one has every figure it feeds (rates, accuracy, shadow agreement, backend shares, latency
 * and load-time quantiles) scaled by cap / weight, and its share of the Horvitz–Thompson estimates
 * alike against the median of the devices' estimated weights (weight / sampleRate). Counts as
 * received (inferences, errors, reports, devices) stay exact; histograms and drift are not capped.
 *
 * What it bounds: with N other devices of about the median weight, one device holds at most
 * factor / (N + factor) of any capped figure (4/14 ≈ 29% beside 10 devices, 4/104 ≈ 3.8% beside 100),
 * whatever it claims within telemetry/1's bounds. A median, unlike a mean, is not moved by the heavy
 * device itself. Honest devices above the cap are capped too; the fleet view counts them
 * (`cappedDevices`). See docs/telemetry.md, "Per-device caps".
 */

/** A device weighs at most this many times the median device of its cohort (wrangler.toml `TELEMETRY_DEVICE_CAP`). */
export const DEVICE_CAP_FACTOR = 4

/** What one report weighs: every event it counts (inferences, errors, loads, labels). */
export function reportWeight(r: Pick<Report, 'counts' | 'feedback'>): number {
  return r.counts.inferences + r.counts.errors + r.counts.loads + (r.feedback?.labeled ?? 0)
}

/**
 * The weight cap of a cohort from the sketch of its devices' weights (one value per device with a
 * positive weight): factor × the median (within the sketch's 1%), or Infinity without devices.
 */
export function weightCap(weights: DDSketch, factor = DEVICE_CAP_FACTOR): number {
  return weights.isEmpty ? Infinity : factor * weights.quantile(0.5)
}

/** The same cap from an exact list of weights (devices with a zero weight left out). */
export function weightCapOf(weights: readonly number[], factor = DEVICE_CAP_FACTOR): number {
  const sorted = weights.filter((w) => w > 0).sort((a, b) => a - b)
  if (sorted.length === 0) return Infinity
  return factor * sorted[Math.floor(0.5 * (sorted.length - 1))]
}

/** The share of a device's contribution kept under `cap`: min(1, cap / weight). */
export function keptShare(weight: number, cap: number): number {
  return weight > cap ? cap / weight : 1
}

/**
 * Per-device counts capped: each device's `weight` and `values` scaled by keptShare(weight, cap),
 * summed. The rollout accuracy guardrail uses it on per-device label counts.
 *
 * @example cappedSum([{ weight: 10, values: [10, 8] }, { weight: 1e6, values: [1e6, 0] }], 40) // [50, 8]
 */
export function cappedSum(devices: readonly { weight: number; values: readonly number[] }[], cap: number): number[] {
  const out: number[] = []
  for (const d of devices) {
    const kept = keptShare(d.weight, cap)
    d.values.forEach((v, i) => (out[i] = (out[i] ?? 0) + v * kept))
  }
  return out
}
