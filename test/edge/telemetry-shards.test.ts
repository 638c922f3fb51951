import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { beforeEach, describe, expect, it } from 'vitest'
import type { Profile } from '../../core/formats/profile.ts'
import type { Report } from '../../core/formats/telemetry.ts'
import {
  addReport,
  decodeAggregate,
  emptyAggregate,
  encodeAggregate,
  type Aggregate,
  type AggregateJson,
} from '../../core/telemetry/aggregate.ts'
import { deviceKey } from '../../core/telemetry/device-set.ts'
import { summarize } from '../../core/telemetry/summarize.ts'
import { readFleet } from '../../edge/telemetry/fleet.ts'
import { shardOf, shardStub } from '../../edge/telemetry/ingest.ts'
import type { TelemetryShard } from '../../edge/telemetry/shard.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, resetState } from './api.ts'
import {
  appKey,
  makeBatch,
  makeReport,
  minuteAgo,
  postBatch,
  PROFILE,
  restartDurableObjects,
  setupModel,
} from './telemetry-fixtures.ts'

const SHARDS = 4
const HOUR = 3_600_000
let key: string
let model: string

beforeEach(async () => {
  posted = []
  await resetState()
  key = await appKey()
  model = await setupModel('shards')
})

type Sent = { report: Report; device: string }
let posted: ReturnType<typeof makeBatch>[] = []
const cohortOf = (r: Report) => `${r.version}|${r.role}|${r.rollout?.id ?? ''}|${r.rollout?.arm ?? ''}`

/** Posts one batch per device and minute, every report of it kept for the expected merge. */
async function send(
  rand: () => number,
  o: { devices: number; starts: number[]; prefix: string; cohorts?: boolean; drift?: boolean },
): Promise<Sent[]> {
  const sent: Sent[] = []
  for (let d = 0; d < o.devices; d++) {
    const device = `dev_${o.prefix}_${d.toString().padStart(5, '0')}`
    for (const start of o.starts) {
      const reports = [makeReport(rand, { model, start, drift: o.drift })]
      if (o.cohorts) {
        const arm = rand() < 0.5 ? 'baseline' : 'candidate'
        reports.push(makeReport(rand, { model, start, rollout: { id: 'ro_1', arm } }))
        if (rand() < 0.5) reports.push(makeReport(rand, { model, start, role: 'shadow', rollout: { id: 'ro_1', arm } }))
      }
      const batch = makeBatch(device, reports)
      posted.push(batch)
      const res = await postBatch(batch, key)
      expect(res.status).toBe(202)
      sent.push(...reports.map((report) => ({ report, device })))
    }
  }
  return sent
}

/** One pass over every report, per cohort: what any merge of the shards must equal. */
function expectedByCohort(sent: Sent[]): Map<string, Aggregate> {
  const out = new Map<string, Aggregate>()
  for (const { report, device } of sent) {
    const id = cohortOf(report)
    if (!out.has(id)) out.set(id, emptyAggregate())
    addReport(out.get(id)!, report, deviceKey(device))
  }
  return out
}

/** Equal but for float sums (rounding depends on merge order). */
function expectSame(actual: AggregateJson, expected: AggregateJson): void {
  const strip = (j: AggregateJson) => ({
    ...j,
    latency: { ...j.latency, sum: 0 },
    loadMs: { ...j.loadMs, sum: 0 },
    shadow: { ...j.shadow, absDiffSum: 0 },
  })
  expect(strip(actual)).toEqual(strip(expected))
  expect(actual.latency.sum).toBeCloseTo(expected.latency.sum, 6)
  expect(actual.shadow.absDiffSum).toBeCloseTo(expected.shadow.absDiffSum, 6)
}

async function fleetTotals(from: number): Promise<Map<string, AggregateJson>> {
  const { cohorts: merged } = await readFleet(env, model, { from, to: minuteAgo(-1), bucketMs: 60_000 })
  return new Map(
    merged.map((c) => [
      `${c.version}|${c.role}|${c.rollout?.id ?? ''}|${c.rollout?.arm ?? ''}`,
      encodeAggregate(c.total),
    ]),
  )
}

/** Runs every shard's alarm with its clock at `at` (default: a minute ahead, past any pending compaction), then restores the real clock. */
async function runAlarms(at?: number): Promise<void> {
  for (let i = 0; i < SHARDS; i++) {
    const stub = shardStub(env, model, i)
    await runInDurableObject(stub, (shard: TelemetryShard) => {
      shard.now = () => at ?? Date.now() + 60_000
    })
    await runDurableObjectAlarm(stub)
    await runInDurableObject(stub, (shard: TelemetryShard) => {
      shard.now = () => Date.now()
    })
  }
}

/** Sets every shard's clock and/or makes its compaction fail just before the commit. */
async function configureShards(o: { clock?: number; failCompaction?: boolean }): Promise<void> {
  for (let i = 0; i < SHARDS; i++) {
    await runInDurableObject(shardStub(env, model, i), (shard: TelemetryShard) => {
      if (o.clock !== undefined) shard.now = () => o.clock!
      if (o.failCompaction)
        shard.beforeCompactionCommit = () => {
          throw new Error('simulated crash inside the compaction transaction')
        }
    })
  }
}

async function inspectAll() {
  const all = await Promise.all(Array.from({ length: SHARDS }, (_, i) => shardStub(env, model, i).inspect()))
  return all.reduce(
    (a, s) => ({
      raw: a.raw + s.raw,
      minute: a.minute + s.minuteCells,
      hour: a.hour + s.hourCells,
      devices: a.devices + s.deviceRows,
      batches: a.batches + s.batches,
    }),
    { raw: 0, minute: 0, hour: 0, devices: 0, batches: 0 },
  )
}

describe('sharded aggregation', { timeout: 30_000 }, () => {
  it('merges the shards into exactly what one merge of all reports gives, before and after compaction (seeded property)', async () => {
    const sent: Sent[] = []
    const starts = [minuteAgo(5), minuteAgo(4), minuteAgo(3)]
    for (const seed of [1, 2]) {
      const rand = seededRandom(seed)
      sent.push(...(await send(rand, { devices: 12 + seed * 7, starts, prefix: `p${seed}`, cohorts: true })))
      const expected = expectedByCohort(sent)
      const check = async () => {
        const actual = await fleetTotals(minuteAgo(10))
        expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort())
        for (const [id, agg] of expected) expectSame(actual.get(id)!, encodeAggregate(agg))
      }
      await check() // raw rows and cells alike (whatever compaction has done so far)
      await runAlarms()
      expect((await inspectAll()).raw).toBe(0)
      await check() // all compacted
      const devicesPerShard = new Set(sent.map((s) => shardOf(s.device, SHARDS)))
      expect(devicesPerShard.size).toBeGreaterThan(1) // the property really spans several shards
    }
    // The public view is core's summary of that merge.
    const view = await bodyOf(
      await api('GET', `/v1/models/${model}/telemetry?granularity=minute&from=${minuteAgo(10)}`),
    )
    const primary = view.cohorts.find((c: any) => c.role === 'primary' && c.rollout === null)
    const all = (await fleetTotals(minuteAgo(10))).get('1|primary||')!
    // No device is above its cap here (4 × the median device), so the figures are the merge's own.
    const { deviceCap, ...total } = primary.total
    expect(total.cappedDevices).toBe(0)
    expect(deviceCap).toBeGreaterThan(0)
    expect(
      JSON.parse(JSON.stringify(summarize(decodeAggregate(all), PROFILE as unknown as Profile, { minDevices: 5 }))),
    ).toEqual({ ...total, deviceCap: null })
    expect(primary.series.map((p: any) => p.start)).toEqual(starts)
  }, 60_000)

  it('suppresses cohorts and points seen on fewer than k = 5 devices', async () => {
    const rand = seededRandom(5)
    const start = minuteAgo(2)
    await send(rand, { devices: 4, starts: [start], prefix: 'k4' })
    const read = async () =>
      (await bodyOf(await api('GET', `/v1/models/${model}/telemetry?granularity=minute&from=${minuteAgo(10)}`)))
        .cohorts[0]
    const hidden = await read()
    expect(hidden.total).toEqual({ suppressed: true, reason: 'fewer_than_min_devices', minDevices: 5 })
    expect(hidden.series).toEqual([{ start, end: start + 60_000, suppressed: true }])
    await send(rand, { devices: 1, starts: [start], prefix: 'k5' })
    const shown = await read()
    expect(shown.total).toMatchObject({ suppressed: false, devices: 5 })
    expect(JSON.stringify(shown)).not.toContain('"suppressed":true')
  })
})

describe('rollups, retention and crashes (alarms driven with an injected clock)', { timeout: 30_000 }, () => {
  it('rolls minutes up into hours after the rollup age, keeps the totals, then applies retention', async () => {
    const rand = seededRandom(9)
    const sent = await send(rand, { devices: 6, starts: [minuteAgo(12), minuteAgo(11)], prefix: 'roll', cohorts: true })
    await runAlarms()
    const before = await inspectAll()
    expect(before).toMatchObject({ raw: 0, hour: 0 })
    expect(before.minute).toBeGreaterThan(0)
    expect(before.devices).toBeGreaterThan(0)
    const totalsBefore = await fleetTotals(minuteAgo(60 * 3))

    await runAlarms(Date.now() + 26 * HOUR) // past TELEMETRY_ROLLUP_AFTER_HOURS = 24
    const after = await inspectAll()
    expect(after.minute).toBe(0)
    expect(after.hour).toBeGreaterThan(0)
    const hourStart = Math.floor(minuteAgo(12) / HOUR) * HOUR
    const totalsAfter = await fleetTotals(hourStart)
    expect([...totalsAfter.keys()].sort()).toEqual([...totalsBefore.keys()].sort())
    for (const [id, agg] of totalsBefore) expectSame(totalsAfter.get(id)!, agg)
    // Per-device rows (rollout guardrails) were rolled up alike.
    const rows = (
      await Promise.all(
        Array.from({ length: SHARDS }, (_, i) =>
          shardStub(env, model, i).deviceStats({ from: hourStart - HOUR, to: Date.now() + HOUR, rollout: 'ro_1' }),
        ),
      )
    ).flat()
    const expectedInferences = sent.filter((s) => s.report.rollout).reduce((n, s) => n + s.report.counts.inferences, 0)
    expect(rows.reduce((n, r) => n + r.inferences, 0)).toBe(expectedInferences)
    expect(new Set(rows.map((r) => r.device)).size).toBe(6)

    await runAlarms(Date.now() + 31 * 24 * HOUR) // past TELEMETRY_RETENTION_DAYS = 30
    expect(await inspectAll()).toEqual({ raw: 0, minute: 0, hour: 0, devices: 0, batches: 0 })
  })

  it('puts a late report (older than the rollup age, inside the horizon) straight into its hour', async () => {
    const rand = seededRandom(10)
    await send(rand, { devices: 1, starts: [minuteAgo(47 * 60)], prefix: 'late' })
    await runAlarms()
    expect(await inspectAll()).toMatchObject({ raw: 0, minute: 0, hour: 1 })
  })

  it("restarts the objects with every shard alarm held, whenever the shards' own alarms were due", async () => {
    // The shards arm their alarm a second after a write; a restart must not cut one off mid-run.
    await configureShards({ failCompaction: true })
    const rand = seededRandom(13)
    for (const wait of [950, 1_000, 1_050]) {
      await send(rand, { devices: 4, starts: [minuteAgo(2)], prefix: `restart${wait}` })
      await new Promise((resolve) => setTimeout(resolve, wait))
      await restartDurableObjects(model)
      for (let i = 0; i < SHARDS; i++) {
        const at = await runInDurableObject(shardStub(env, model, i), (_s: TelemetryShard, state) =>
          state.storage.getAlarm(),
        )
        expect(at).toBeGreaterThan(Date.now() + 12 * HOUR)
      }
      await configureShards({ failCompaction: true })
    }
    await runAlarms(Date.now() + 2 * HOUR)
    expect(await inspectAll()).toMatchObject({ raw: 12 })
  })

  it('neither loses nor double-counts when compaction fails before its commit', async () => {
    // Every compaction fails just before its commit, whenever the alarm runs it.
    await configureShards({ failCompaction: true })
    const rand = seededRandom(11)
    const sent = await send(rand, { devices: 6, starts: [minuteAgo(3)], prefix: 'crash' })
    const expected = encodeAggregate(expectedByCohort(sent).get('1|primary||')!)
    await runAlarms(Date.now() + 2 * HOUR)
    const failed = await inspectAll()
    expect(failed.raw).toBe(6) // rolled back: every raw row is still there …
    expect(failed.minute).toBe(0) // … and no aggregate was written
    expectSame((await fleetTotals(minuteAgo(10))).get('1|primary||')!, expected) // reads include raw rows

    await restartDurableObjects(model) // fresh instances (no hook), same storage
    await runAlarms(Date.now() + 3 * HOUR) // the failed job was rescheduled a minute after its failure
    expect(await inspectAll()).toMatchObject({ raw: 0 })
    expectSame((await fleetTotals(minuteAgo(10))).get('1|primary||')!, expected)
  })

  it('keeps acknowledged batches across an abort between the raw write and compaction', async () => {
    await configureShards({ failCompaction: true }) // compaction cannot commit before the abort
    const rand = seededRandom(12)
    const sent = await send(rand, { devices: 5, starts: [minuteAgo(2)], prefix: 'abort' })
    expect((await inspectAll()).raw).toBe(5)
    await restartDurableObjects(model)
    const expected = encodeAggregate(expectedByCohort(sent).get('1|primary||')!)
    expectSame((await fleetTotals(minuteAgo(10))).get('1|primary||')!, expected)
    await runAlarms(Date.now() + 2 * HOUR)
    expect((await inspectAll()).raw).toBe(0)
    expectSame((await fleetTotals(minuteAgo(10))).get('1|primary||')!, expected)
    // A retry after the restart is still recognised as one.
    expect(await bodyOf(await postBatch(posted[posted.length - 1], key))).toEqual({ accepted: 0, duplicate: true })
  })
})
