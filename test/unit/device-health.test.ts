import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { HEALTH_KINDS, type HealthCounts } from '../../core/formats/health.ts'
import { CohortMetrics } from '../../core/formats/fleet.ts'
import { SliceMetrics } from '../../core/formats/slices.ts'
import { Report } from '../../core/formats/telemetry.ts'
import { ArmStats, Guardrail, RolloutStep } from '../../core/formats/rollout.ts'
import { judgeGuardrail } from '../../core/rollout/decide.ts'
import {
  addReport,
  decodeAggregate,
  emptyAggregate,
  encodeAggregate,
  mergeAggregates,
  reportAggregate,
} from '../../core/telemetry/aggregate.ts'
import { crashFigures, crashRate, emptyHealth, healthView } from '../../core/telemetry/health.ts'
import {
  addSliceReport,
  decodeSliceAggregate,
  emptySliceAggregate,
  encodeSliceAggregate,
  summarizeSlice,
} from '../../core/telemetry/slice-aggregate.ts'
import { summarize } from '../../core/telemetry/summarize.ts'
import { seededRandom, shuffled } from '../../scripts/lib/random.ts'

const vectors = JSON.parse(readFileSync(new URL('../vectors/formats/report.valid.json', import.meta.url), 'utf8')) as {
  name: string
  value: unknown
}[]
const healthy = Report.parse(vectors.find((v) => v.name.startsWith('device health'))!.value)

/** A report of the golden health case with seeded counts: loads ≥ 2, each health kind 0 to 3. */
function randomReport(rand: () => number): Report {
  const health = Object.fromEntries(HEALTH_KINDS.map((k) => [k, Math.floor(rand() * 4)])) as HealthCounts
  const loads = 2 + Math.floor(rand() * 3)
  return Report.parse({
    ...healthy,
    counts: { ...healthy.counts, loads, cacheHits: Math.min(loads, 1) },
    health,
  })
}

describe('device health in the fleet aggregate', () => {
  it('the golden health report parses, and a health count beyond a window is refused with its reason', () => {
    expect(healthy.health).toEqual({ deviceLost: 1, oomLoad: 0, oomRun: 1, workerCrash: 0, loadAbandoned: 1 })
    const r = Report.safeParse({ ...healthy, health: { ...healthy.health, workerCrash: 601 } })
    expect(r.success).toBe(false)
    expect(r.error!.issues[0]).toMatchObject({
      path: ['health', 'workerCrash'],
      params: { reason: 'health_over_window' },
    })
  })

  it('sums health counts exactly, whatever the merge order, and keeps them through the stored form', () => {
    const rand = seededRandom(1515)
    const reports = Array.from({ length: 200 }, () => randomReport(rand))
    const expected = emptyHealth()
    let loads = 0
    for (const r of reports) {
      for (const k of HEALTH_KINDS) expected[k] += r.health![k]
      loads += r.counts.loads
    }
    const parts = reports.map((r, i) => reportAggregate(r, i % 37))
    for (let round = 0; round < 5; round++) {
      const merged = mergeAggregates(shuffled(parts, rand))
      expect(merged.health).toEqual(expected)
      const stored = decodeAggregate(JSON.parse(JSON.stringify(encodeAggregate(merged))))
      expect(stored.health).toEqual(expected)
      expect(stored.counts.loads).toBe(loads)
    }
  })

  it('leaves health out of stored aggregates without events, and reads older cells as no events', () => {
    const { health: _h, ...plain } = healthy
    const agg = addReport(emptyAggregate(), plain as Report, 1)
    const json = encodeAggregate(agg)
    expect('health' in json).toBe(false)
    expect(decodeAggregate(json).health).toEqual(emptyHealth())
  })

  it('refuses a stored cell with more health events than its reports can hold', () => {
    const json = encodeAggregate(addReport(emptyAggregate(), healthy, 1))
    json.health = { ...json.health!, oomRun: 600 * 60 + 1 }
    expect(() => decodeAggregate(json)).toThrow(/health events/)
  })

  it('summarizes health with crashes, sessions and the crash rate', () => {
    const agg = mergeAggregates([1, 2, 3, 4, 5].map((d) => reportAggregate(healthy, d)))
    const m = CohortMetrics.parse(summarize(agg, null, { minDevices: 5 }))
    // Five reports, each: 2 loads, 1 device lost, 1 OOM run, 1 abandoned load.
    expect(m.health).toEqual({
      deviceLost: 5,
      oomLoad: 0,
      oomRun: 5,
      workerCrash: 0,
      loadAbandoned: 5,
      crashes: 15,
      sessions: 15,
      crashRate: 1,
    })
    const { health: _h, ...plain } = healthy
    const quiet = mergeAggregates([1, 2, 3, 4, 5].map((d) => reportAggregate(plain as Report, d)))
    expect(summarize(quiet, null, { minDevices: 5 })).not.toHaveProperty('health')
  })

  it('defines the crash rate as crashes over loads plus abandoned loads, 1 at most, null without sessions', () => {
    const h = { deviceLost: 1, oomLoad: 2, oomRun: 0, workerCrash: 1, loadAbandoned: 1 }
    expect(crashFigures(h, 9)).toEqual({ crashes: 5, sessions: 10 })
    expect(crashRate(crashFigures(h, 9))).toBe(0.5)
    expect(crashRate(crashFigures(h, 0))).toBe(1)
    expect(crashRate(crashFigures(emptyHealth(), 0))).toBeNull()
    expect(healthView(emptyHealth(), 4)).toMatchObject({ crashes: 0, sessions: 4, crashRate: 0 })
  })

  it('counts health per slice, exactly through the stored slice form', () => {
    const a = emptySliceAggregate()
    for (let d = 0; d < 6; d++) addSliceReport(a, healthy, d)
    const back = decodeSliceAggregate(JSON.parse(JSON.stringify(encodeSliceAggregate(a))))
    const m = SliceMetrics.parse(summarizeSlice(back, 5))
    expect(m.health).toMatchObject({ deviceLost: 6, oomRun: 6, loadAbandoned: 6, crashes: 18, sessions: 18 })
  })
})

describe('the crash_rate guardrail', () => {
  const step = RolloutStep.parse({ percent: 20, minDevices: 5 })
  const arm = (devices: number, crashes: number, sessions: number) =>
    ArmStats.parse({
      devices,
      inferences: 100,
      summary: {
        inferences: 100,
        labeled: 0,
        correct: 0,
        rates: Object.fromEntries(
          ['error_rate', 'fallback_rate', 'shadow_disagreement'].map((m) => [m, { n: 0, sum: 0, sumSq: 0 }]),
        ),
      },
      latency: null,
      driftJsMax: null,
      health: { crashes, sessions },
    })
  const guard = Guardrail.parse({ metric: 'crash_rate', maxDiff: 0.05, minSessions: 100 })
  const judge = (baseline: ArmStats, candidate: ArmStats) => judgeGuardrail(guard, { baseline, candidate }, step, 0.05)

  it('breaches when the candidate crashes more than maxDiff above the baseline', () => {
    const r = judge(arm(10, 10, 200), arm(10, 32, 200))
    expect(r).toMatchObject({ status: 'breach', reason: 'judged', limit: 0.05 })
    expect(r.value).toBeCloseTo(0.16 - 0.05, 12)
  })

  it('holds a difference of exactly maxDiff, and a candidate crashing less', () => {
    expect(judge(arm(10, 10, 200), arm(10, 20, 200)).status).toBe('ok')
    expect(judge(arm(10, 30, 200), arm(10, 0, 200))).toMatchObject({ status: 'ok', value: -0.15 })
  })

  it('does not judge before both arms have minSessions sessions and the step minimum devices', () => {
    expect(judge(arm(10, 0, 99), arm(10, 90, 200))).toMatchObject({
      status: 'not_judged',
      reason: 'insufficient_sessions',
    })
    expect(judge(arm(4, 0, 500), arm(10, 90, 200))).toMatchObject({
      status: 'not_judged',
      reason: 'insufficient_devices',
    })
  })

  it('parses from the CLI form and refuses a maxDiff of 1 or more', () => {
    expect(guard).toEqual({ metric: 'crash_rate', maxDiff: 0.05, minSessions: 100 })
    expect(Guardrail.safeParse({ metric: 'crash_rate', maxDiff: 1 }).success).toBe(false)
    expect(Guardrail.parse({ metric: 'crash_rate', maxDiff: 0.02 })).toMatchObject({ minSessions: 100 })
  })
})
