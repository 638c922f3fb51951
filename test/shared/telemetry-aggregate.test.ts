import { describe, expect, it } from 'vitest'
import { FleetCohort } from '../../core/formats/fleet.ts'
import type { Profile } from '../../core/formats/profile.ts'
import type { Report } from '../../core/formats/telemetry.ts'
import { addReport, decodeAggregate, emptyAggregate, encodeAggregate, mergeAggregates, mergeInto, type Aggregate, type AggregateJson } from '../../core/telemetry/aggregate.ts'
import { deviceKey } from '../../core/telemetry/device-set.ts'
import { combinePoints, mergePoints, summarizePoint, toPoint } from '../../core/telemetry/series.ts'
import { summarize } from '../../core/telemetry/summarize.ts'
import { seededRandom } from '../helpers/random.ts'
import { makeReport, PROFILE } from '../helpers/telemetry.ts'

const T0 = Date.UTC(2026, 10, 26, 10, 0)
const MINUTE = 60_000
const profile = PROFILE as unknown as Profile

/** Seeded reports of `devices` devices over `minutes` minutes. */
function reportsOf(seed: number, devices: number, minutes: number, drift = false, firstMinute = 0): { report: Report; device: number }[] {
  const rand = seededRandom(seed)
  const out: { report: Report; device: number }[] = []
  for (let d = 0; d < devices; d++) {
    for (let m = 0; m < minutes; m++) {
      if (rand() < 0.3) continue
      out.push({ report: makeReport(rand, { model: 'm', start: T0 + (firstMinute + m) * MINUTE, drift }), device: deviceKey(`dev_${seed}_${d}`) })
    }
  }
  return out
}

function fold(rs: readonly { report: Report; device: number }[]): Aggregate {
  const agg = emptyAggregate()
  for (const { report, device } of rs) addReport(agg, report, device)
  return agg
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
  const strip = (j: AggregateJson): AggregateJson => ({ ...j, latency: { ...j.latency, sum: 0 }, loadMs: { ...j.loadMs, sum: 0 }, shadow: { ...j.shadow, absDiffSum: 0 } })
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
    expect(agg.features.temp_max.counts.reduce((x, y) => x + y, 0)).toBe(all.reduce((n, r) => n + r.report.features.temp_max.counts.reduce((x, y) => x + y, 0), 0))
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
    expect(FleetCohort.safeParse({ version: 1, role: 'primary', rollout: null, total: steady, series: [] }).success).toBe(true)
  })

  it('suppresses a cohort seen on fewer than k devices, with no metrics at all', () => {
    const few = fold(reportsOf(31, 4, 3))
    expect(few.devices.size).toBe(4)
    expect(summarize(few, profile, { minDevices: 5 })).toEqual({ suppressed: true, reason: 'fewer_than_min_devices', minDevices: 5 })
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
    const byMinute = [0, 1].map((m) => toPoint(fold(b.filter((r) => r.report.window.start === T0 + m * MINUTE)), T0 + m * MINUTE, T0 + (m + 1) * MINUTE))
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
