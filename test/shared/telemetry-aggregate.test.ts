import { describe, expect, it } from 'vitest'
import { FleetCohort } from '../../core/formats/fleet.ts'
import type { Profile } from '../../core/formats/profile.ts'
import type { Report } from '../../core/formats/telemetry.ts'
import {
  addReport,
  decodeAggregate,
  emptyAggregate,
  encodeAggregate,
  estimatesOf,
  mergeAggregates,
  mergeInto,
  type Aggregate,
  type AggregateJson,
} from '../../core/telemetry/aggregate.ts'
import { deviceKey } from '../../core/telemetry/device-set.ts'
import { combinePoints, mergePoints, summarizePoint, toPoint } from '../../core/telemetry/series.ts'
import { summarize } from '../../core/telemetry/summarize.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { makeReport, PROFILE } from '../helpers/telemetry.ts'

const T0 = Date.UTC(2026, 10, 26, 10, 0)
const MINUTE = 60_000
const profile = PROFILE as unknown as Profile

type Received = { report: Report; device: number; rate?: number }

/** Seeded reports of `devices` devices over `minutes` minutes; with `rates`, each device samples at one of them. */
function reportsOf(
  seed: number,
  devices: number,
  minutes: number,
  drift = false,
  firstMinute = 0,
  rates?: readonly number[],
): Received[] {
  const rand = seededRandom(seed)
  const out: Received[] = []
  for (let d = 0; d < devices; d++) {
    const rate = rates?.[Math.floor(rand() * rates.length)]
    for (let m = 0; m < minutes; m++) {
      if (rand() < 0.3) continue
      out.push({
        report: makeReport(rand, { model: 'm', start: T0 + (firstMinute + m) * MINUTE, drift }),
        device: deviceKey(`dev_${seed}_${d}`),
        ...(rate ? { rate } : {}),
      })
    }
  }
  return out
}

function fold(rs: readonly Received[]): Aggregate {
  const agg = emptyAggregate()
  for (const { report, device, rate } of rs) addReport(agg, report, device, rate)
  return agg
}

/** The Horvitz–Thompson totals written out report by report: every report weighs 1/rate, every distinct device 1/its rate. */
function weighted(rs: readonly Received[]): { devices: number; reports: number; inferences: number; errors: number } {
  const rateOfDevice = new Map(rs.map((r) => [r.device, r.rate ?? 1]))
  return {
    devices: [...rateOfDevice.values()].reduce((n, rate) => n + 1 / rate, 0),
    reports: rs.reduce((n, r) => n + 1 / (r.rate ?? 1), 0),
    inferences: rs.reduce((n, r) => n + r.report.counts.inferences / (r.rate ?? 1), 0),
    errors: rs.reduce((n, r) => n + r.report.counts.errors / (r.rate ?? 1), 0),
  }
}

function shuffle<T>(xs: readonly T[], rand: () => number): T[] {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

/** Float sums agree across merge orders only up to rounding; everything else must be identical. */
function expectSameAggregate(actual: Aggregate, expected: Aggregate): void {
  const a = encodeAggregate(actual)
  const e = encodeAggregate(expected)
  const floats = (j: AggregateJson) => [j.latency.sum, j.loadMs.sum, j.shadow.absDiffSum]
  const strip = (j: AggregateJson): AggregateJson => ({
    ...j,
    latency: { ...j.latency, sum: 0 },
    loadMs: { ...j.loadMs, sum: 0 },
    shadow: { ...j.shadow, absDiffSum: 0 },
  })
  expect(strip(a)).toEqual(strip(e))
  floats(a).forEach((x, i) => expect(x).toBeCloseTo(floats(e)[i], 6))
}

describe('aggregate (exact, order-independent merging)', () => {
  it('any partition of the reports, merged in any order, equals one pass over all of them', () => {
    const rand = seededRandom(2024)
    const all = reportsOf(1, 40, 5)
    const expected = fold(all)
    for (let trial = 0; trial < 8; trial++) {
      const parts = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => [] as typeof all)
      for (const r of shuffle(all, rand)) parts[Math.floor(rand() * parts.length)].push(r)
      const merged = mergeAggregates(shuffle(parts.map(fold), rand))
      expectSameAggregate(merged, expected)
      // The stored form survives a round trip, and merging is associative: ((a ∪ b) ∪ c) = (a ∪ (b ∪ c)).
      expectSameAggregate(decodeAggregate(JSON.parse(JSON.stringify(encodeAggregate(merged)))), expected)
    }
    const [a, b, c] = [fold(all.slice(0, 50)), fold(all.slice(50, 90)), fold(all.slice(90))]
    expectSameAggregate(mergeAggregates([mergeAggregates([a, b]), c]), mergeAggregates([a, mergeAggregates([b, c])]))
  })

  it('keeps exact counts, histograms and distinct devices', () => {
    const all = reportsOf(3, 12, 4)
    const agg = fold(all)
    expect(agg.reports).toBe(all.length)
    expect(agg.devices.size).toBe(new Set(all.map((r) => r.device)).size)
    expect(agg.counts.inferences).toBe(all.reduce((n, r) => n + r.report.counts.inferences, 0))
    expect(agg.features.temp_max.counts.reduce((x, y) => x + y, 0)).toBe(
      all.reduce((n, r) => n + r.report.features.temp_max.counts.reduce((x, y) => x + y, 0), 0),
    )
    expect(agg.latency.count).toBe(agg.counts.inferences)
    expect(Object.values(agg.backends).reduce((x, y) => x + y, 0)).toBe(agg.counts.inferences)
  })

  it('adds a report all or nothing: a histogram on other bins leaves the aggregate unchanged', () => {
    const [first, second] = reportsOf(5, 1, 2).map((r) => r.report)
    const agg = addReport(emptyAggregate(), first, 1)
    const before = JSON.stringify(encodeAggregate(agg))
    const bad = { ...second, features: { ...second.features, wind: { counts: [1, 2], missing: 0 } } }
    expect(() => addReport(agg, bad, 2)).toThrow(/bins/)
    expect(JSON.stringify(encodeAggregate(agg))).toBe(before)
    expect(() => mergeInto(agg, addReport(emptyAggregate(), bad, 2))).toThrow(/bins/)
    expect(JSON.stringify(encodeAggregate(agg))).toBe(before)
  })

  it('has the empty aggregate as identity', () => {
    const agg = fold(reportsOf(9, 3, 3))
    expectSameAggregate(mergeAggregates([emptyAggregate(), agg, emptyAggregate()]), agg)
  })
})

describe('summarize', () => {
  it('reports rates, quantiles and drift against the profile; drifted features are named', () => {
    const drifted = summarize(fold(reportsOf(21, 30, 3, true)), profile, { minDevices: 5 })
    const steady = summarize(fold(reportsOf(22, 30, 3)), profile, { minDevices: 5 })
    if (drifted.suppressed || steady.suppressed) throw new Error('unexpectedly suppressed')
    expect(drifted.features.temp_max).toMatchObject({ drifted: true, reason: 'drifted' })
    expect(drifted.drift.features).toContain('temp_max')
    expect(drifted.features.temp_max.js!).toBeGreaterThan(0.1)
    expect(steady.features.wind.drifted).toBe(false)
    expect(steady.errorRate).toBeCloseTo(steady.errors / steady.inferences, 12)
    expect(steady.latencyMs!.p50).toBeLessThanOrEqual(steady.latencyMs!.p95)
    expect(steady.latencyMs!.p95).toBeLessThanOrEqual(steady.latencyMs!.p99)
    expect(steady.devicesRelativeError).toBe(0)
    expect(Object.values(steady.backends).reduce((n, b) => n + b!.share, 0)).toBeCloseTo(1, 12)
    // The summary fits the wire schema the CLI and dashboard parse.
    expect(
      FleetCohort.safeParse({ version: 1, role: 'primary', rollout: null, total: steady, series: [] }).success,
    ).toBe(true)
  })

  it('suppresses a cohort seen on fewer than k devices, with no metrics at all', () => {
    const few = fold(reportsOf(31, 4, 3))
    expect(few.devices.size).toBe(4)
    expect(summarize(few, profile, { minDevices: 5 })).toEqual({
      suppressed: true,
      reason: 'fewer_than_min_devices',
      minDevices: 5,
    })
    expect(summarize(few, profile, { minDevices: 4 }).suppressed).toBe(false)
  })

  it('says no_reference for a name the profile lacks (instead of inventing drift)', () => {
    const s = summarize(fold(reportsOf(41, 6, 1)), null, { minDevices: 1 })
    if (s.suppressed) throw new Error('unexpectedly suppressed')
    expect(s.features.temp_max).toMatchObject({ reason: 'no_reference', js: null, drifted: false })
  })
})

describe('series points', () => {
  it('add up across shards (disjoint devices), and fold minute points into an hour point that contains them', () => {
    const a = reportsOf(51, 6, 2)
    // Two other shards' minutes (each shard's devices are its own).
    const b = [...reportsOf(52, 6, 1), ...reportsOf(53, 6, 1, false, 1)]
    const hour = Math.floor(T0 / 3_600_000) * 3_600_000
    const pa = toPoint(fold(a), hour, hour + 3_600_000)
    const byMinute = [0, 1].map((m) =>
      toPoint(fold(b.filter((r) => r.report.window.start === T0 + m * MINUTE)), T0 + m * MINUTE, T0 + (m + 1) * MINUTE),
    )
    const [combined] = combinePoints([...byMinute, pa])
    expect(combinePoints([...byMinute, pa])).toHaveLength(1)
    expect(combined).toMatchObject({ start: hour, end: hour + 3_600_000, reports: a.length + b.length })
    expect(combined.counts.inferences).toBe(fold([...a, ...b]).counts.inferences)
    expect(combined.devices).toBe(fold([...a, ...b]).devices.size)
    expect(() => mergePoints([pa, { ...pa, start: hour - 3_600_000 }])).toThrow(RangeError)
    expect(summarizePoint(combined, 1000)).toEqual({ start: hour, end: hour + 3_600_000, suppressed: true })
    expect(summarizePoint(combined, 1)).toMatchObject({ suppressed: false, reports: a.length + b.length })
  })
})

describe('sampled telemetry (Horvitz–Thompson estimates)', () => {
  const RATES = [0.1, 0.25, 0.3, 1] // 0.1 and 0.3 are not exact in binary: the estimate must still not depend on the merge order

  it('leaves every exact field as received and estimates Σ count / rate, the same to the bit whatever the partition and merge order', () => {
    const rand = seededRandom(77)
    const all = reportsOf(61, 40, 5, false, 0, RATES)
    const expected = fold(all)
    // Exact fields: what arrived, as if nothing had been sampled.
    const { sampled, ...exact } = encodeAggregate(expected)
    expect(exact).toEqual(encodeAggregate(fold(all.map(({ report, device }) => ({ report, device })))))
    expect(Object.keys(sampled!)).toEqual(['0.1', '0.25', '0.3'])
    const estimate = estimatesOf(expected)!
    const want = weighted(all)
    for (const k of ['devices', 'reports', 'inferences', 'errors'] as const) expect(estimate[k]).toBeCloseTo(want[k], 9)
    for (let trial = 0; trial < 8; trial++) {
      const parts = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => [] as Received[])
      for (const r of shuffle(all, rand)) parts[Math.floor(rand() * parts.length)].push(r)
      const merged = mergeAggregates(shuffle(parts.map(fold), rand))
      expectSameAggregate(merged, expected)
      expect(estimatesOf(merged)).toEqual(estimate)
      expect(estimatesOf(decodeAggregate(JSON.parse(JSON.stringify(encodeAggregate(merged)))))).toEqual(estimate)
    }
    const [a, b, c] = [fold(all.slice(0, 50)), fold(all.slice(50, 90)), fold(all.slice(90))]
    expect(estimatesOf(mergeAggregates([mergeAggregates([a, b]), c]))).toEqual(
      estimatesOf(mergeAggregates([a, mergeAggregates([b, c])])),
    )
  })

  it('is exact where 1/rate is: at rate 0.25 every count is multiplied by 4', () => {
    const quarter = reportsOf(62, 8, 3, false, 0, [0.25])
    const full = reportsOf(63, 8, 3)
    const agg = fold([...quarter, ...full])
    const sum = (rs: Received[], f: (r: Report) => number) => rs.reduce((n, r) => n + f(r.report), 0)
    const devices = (rs: Received[]) => new Set(rs.map((r) => r.device)).size
    expect(estimatesOf(agg)).toEqual({
      devices: devices(quarter) * 4 + devices(full),
      reports: quarter.length * 4 + full.length,
      inferences: sum(quarter, (r) => r.counts.inferences) * 4 + sum(full, (r) => r.counts.inferences),
      errors: sum(quarter, (r) => r.counts.errors) * 4 + sum(full, (r) => r.counts.errors),
    })
    const s = summarize(agg, profile, { minDevices: 5 })
    if (s.suppressed) throw new Error('unexpectedly suppressed')
    expect(s).toMatchObject({
      devices: devices(quarter) + devices(full),
      reports: quarter.length + full.length,
      minSampleRate: 0.25,
      estimated: estimatesOf(agg),
    })
    expect(FleetCohort.safeParse({ version: 1, role: 'primary', rollout: null, total: s, series: [] }).success).toBe(
      true,
    )
  })

  it('counts a device that reported under two rates once, at the lower one', () => {
    const [r1, r2, r3] = reportsOf(64, 1, 3).map((r) => r.report)
    const agg = fold([
      { report: r1, device: 7, rate: 0.5 },
      { report: r2, device: 7, rate: 0.25 },
      { report: r3, device: 8, rate: 0.5 },
    ])
    expect(estimatesOf(agg)!.devices).toBe(4 + 2)
    expect(estimatesOf(agg)!.reports).toBe(2 + 4 + 2)
  })

  it('says nothing was sampled when every rate is 1, also for cells stored before rates were kept', () => {
    const agg = fold(reportsOf(65, 6, 2))
    expect(estimatesOf(agg)).toBeNull()
    expect('sampled' in encodeAggregate(agg)).toBe(false)
    const s = summarize(agg, profile, { minDevices: 1 })
    expect(s).toMatchObject({ estimated: null, minSampleRate: 1 })
    const half = reportsOf(66, 3, 2, false, 0, [0.5])
    const sampledToo = mergeAggregates([decodeAggregate(encodeAggregate(agg)), fold(half)])
    expect(estimatesOf(sampledToo)).toEqual(weighted([...reportsOf(65, 6, 2), ...half]))
  })

  it('refuses a rate outside (0, 1] without touching the aggregate, and a stored rate key that is not one', () => {
    const [r] = reportsOf(67, 1, 1).map((x) => x.report)
    const agg = addReport(emptyAggregate(), r, 1, 0.5)
    const before = JSON.stringify(encodeAggregate(agg))
    for (const rate of [0, -1, 1.5, Number.NaN]) expect(() => addReport(agg, r, 2, rate)).toThrow(/sample rate/)
    expect(JSON.stringify(encodeAggregate(agg))).toBe(before)
    const stored = encodeAggregate(agg)
    expect(() => decodeAggregate({ ...stored, sampled: { '1': stored.sampled!['0.5'] } })).toThrow(/sampled rate key/)
    expect(() => decodeAggregate({ ...stored, sampled: { '0.50': stored.sampled!['0.5'] } })).toThrow(
      /sampled rate key/,
    )
  })

  it('series points of disjoint shards add up to the estimate of the merged aggregate', () => {
    const hour = Math.floor(T0 / 3_600_000) * 3_600_000
    const shards = [
      reportsOf(71, 12, 2, false, 0, RATES),
      reportsOf(72, 9, 2, false, 0, [0.25, 1]),
      reportsOf(73, 5, 1, false, 1),
    ]
    const points = shards.map((rs) => toPoint(fold(rs), hour, hour + 3_600_000))
    const all = fold(shards.flat())
    for (const order of [points, [...points].reverse()]) {
      const [combined] = combinePoints(order)
      const p = summarizePoint(combined, 1)
      if (p.suppressed) throw new Error('unexpectedly suppressed')
      expect(p.minSampleRate).toBe(Math.min(...shards.flat().map((r) => r.rate ?? 1)))
      const want = estimatesOf(all)!
      for (const k of ['devices', 'reports', 'inferences', 'errors'] as const)
        expect(p.estimated![k]).toBeCloseTo(want[k], 9)
    }
    expect(summarizePoint(toPoint(fold(shards[2]), hour, hour + 3_600_000), 1)).toMatchObject({
      estimated: null,
      minSampleRate: 1,
    })
  })
})
