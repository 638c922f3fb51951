// Sampled telemetry end to end in workerd: batches at sampleRate 0.25 and 1 from seeded devices,
// read back through the fleet route with their exact counts unchanged and Horvitz–Thompson
// estimates of Σ count / rate, before and after compaction and rollup, across shards, with a
// retried batch counted once, and a shard created before rates were stored migrated in place.
import { env, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test'
import { beforeEach, describe, expect, it } from 'vitest'
import type { Batch, Report } from '../../core/formats/telemetry.ts'
import { deviceKey } from '../../core/telemetry/device-set.ts'
import { estimatesOf } from '../../core/telemetry/aggregate.ts'
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
  restartDurableObjects,
  setupModel,
} from './telemetry-fixtures.ts'

const SHARDS = 4
const HOUR = 3_600_000
let key: string
let model: string

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = await setupModel('sampling')
})

type Sent = { batch: Batch; rate: number }

/** One batch per device with a report in each of `starts`; the first `sampled` devices send at rate 0.25. */
async function sendFleet(seed: number, o: { devices: number; sampled: number; starts: number[] }): Promise<Sent[]> {
  const rand = seededRandom(seed)
  const sent: Sent[] = []
  for (let d = 0; d < o.devices; d++) {
    const rate = d < o.sampled ? 0.25 : 1
    const reports = o.starts.map((start) => makeReport(rand, { model, start }))
    const batch = { ...makeBatch(`dev_sampling_${seed}_${d.toString().padStart(4, '0')}`, reports), sampleRate: rate }
    const res = await postBatch(batch, key)
    expect(res.status).toBe(202)
    expect(await bodyOf(res)).toEqual({ accepted: o.starts.length, duplicate: false })
    sent.push({ batch, rate })
  }
  return sent
}

/** What the view must say: exact sums as received, and Σ count / rate (exact in binary at rate 0.25). */
function expected(sent: Sent[], inWindow: (r: Report) => boolean = () => true) {
  const rows = sent.flatMap(({ batch, rate }) =>
    batch.reports.filter(inWindow).map((r) => ({ r, rate, device: batch.device.id })),
  )
  const sum = (f: (x: (typeof rows)[number]) => number) => rows.reduce((n, x) => n + f(x), 0)
  const devices = new Map(rows.map((x) => [x.device, x.rate]))
  return {
    exact: {
      devices: devices.size,
      reports: rows.length,
      inferences: sum((x) => x.r.counts.inferences),
      errors: sum((x) => x.r.counts.errors),
    },
    estimated: {
      devices: [...devices.values()].reduce((n, rate) => n + 1 / rate, 0),
      reports: sum((x) => 1 / x.rate),
      inferences: sum((x) => x.r.counts.inferences / x.rate),
      errors: sum((x) => x.r.counts.errors / x.rate),
    },
  }
}

async function view(): Promise<any> {
  const res = await api('GET', `/v1/models/${model}/telemetry?granularity=minute&from=${minuteAgo(30)}`)
  expect(res.status).toBe(200)
  return (await bodyOf(res)).cohorts.find((c: any) => c.role === 'primary' && c.rollout === null)
}

/** The merged primary cohort read from the shards directly (no route: keeps this file's request count low). */
async function merged(from: number) {
  const { cohorts } = await readFleet(env, model, { from, to: minuteAgo(-1), bucketMs: null })
  const c = cohorts.find((x) => x.role === 'primary' && x.rollout === null)!
  return {
    exact: {
      devices: c.total.devices.size,
      reports: c.total.reports,
      inferences: c.total.counts.inferences,
      errors: c.total.counts.errors,
    },
    estimated: estimatesOf(c.total),
  }
}

/** Runs every shard's alarm with its clock at `at`, then restores the real clock. */
async function runAlarms(at: number): Promise<void> {
  for (let i = 0; i < SHARDS; i++) {
    const stub = shardStub(env, model, i)
    await runInDurableObject(stub, (shard: TelemetryShard) => {
      shard.now = () => at
    })
    await runDurableObjectAlarm(stub)
    await runInDurableObject(stub, (shard: TelemetryShard) => {
      shard.now = () => Date.now()
    })
  }
}

async function stored(): Promise<{ raw: number; minute: number; hour: number }> {
  const all = await Promise.all(Array.from({ length: SHARDS }, (_, i) => shardStub(env, model, i).inspect()))
  return all.reduce((a, s) => ({ raw: a.raw + s.raw, minute: a.minute + s.minuteCells, hour: a.hour + s.hourCells }), {
    raw: 0,
    minute: 0,
    hour: 0,
  })
}

describe('sampled telemetry in the fleet view', { timeout: 60_000 }, () => {
  it('keeps exact counts and estimates Σ count / rate, before and after compaction and rollup, across shards; a retry counts once', async () => {
    const starts = [minuteAgo(4), minuteAgo(3)]
    const sent = await sendFleet(1, { devices: 14, sampled: 8, starts })
    expect(new Set(sent.map((s) => shardOf(s.batch.device.id, SHARDS))).size).toBeGreaterThan(1)
    const want = expected(sent)
    expect(want.estimated.inferences).toBe(
      4 * expected(sent.filter((s) => s.rate < 1)).exact.inferences +
        expected(sent.filter((s) => s.rate === 1)).exact.inferences,
    )

    const before = await view()
    expect(before.total).toMatchObject({
      suppressed: false,
      ...want.exact,
      minSampleRate: 0.25,
      estimated: want.estimated,
    })
    expect(before.series).toHaveLength(2)
    for (const p of before.series) {
      const inMinute = expected(sent, (r) => r.window.start === p.start)
      expect(p).toMatchObject({
        suppressed: false,
        ...inMinute.exact,
        minSampleRate: 0.25,
        estimated: inMinute.estimated,
      })
    }

    // The SDK retries a batch whose answer was lost: same bytes, counted once.
    const again = await postBatch(sent[0].batch, key)
    expect(await bodyOf(again)).toEqual({ accepted: 0, duplicate: true })

    await runAlarms(Date.now() + 60_000)
    expect((await stored()).raw).toBe(0)
    expect(await view()).toEqual(before) // compacted cells read exactly like the raw rows did

    await runAlarms(Date.now() + 26 * HOUR) // past the rollup age: minutes become hours
    const rolled = await stored()
    expect(rolled.minute).toBe(0)
    expect(rolled.hour).toBeGreaterThan(0)
    expect(await merged(Math.floor(minuteAgo(4) / HOUR) * HOUR)).toEqual(want)
  })

  it('says nothing was estimated for a fleet that does not sample', async () => {
    await sendFleet(2, { devices: 5, sampled: 0, starts: [minuteAgo(2)] })
    const c = await view()
    expect(c.total).toMatchObject({ suppressed: false, devices: 5, estimated: null, minSampleRate: 1 })
    expect(c.series[0]).toMatchObject({ estimated: null, minSampleRate: 1 })
  })

  it('adds the rate column to a shard created before rates were stored; its rows count at rate 1', async () => {
    const rand = seededRandom(3)
    const old = makeReport(rand, { model, start: minuteAgo(2) })
    const stub = shardStub(env, model, 0)
    // The shard as the previous release left it: `raw` without `sample_rate`, one row not yet compacted.
    await runInDurableObject(stub, (_shard: TelemetryShard, state) => {
      const sql = state.storage.sql
      sql.exec('DROP TABLE raw')
      sql.exec('DROP TABLE raw_rejected')
      sql.exec(
        'CREATE TABLE raw (seq INTEGER PRIMARY KEY, device_key INTEGER NOT NULL, received_at INTEGER NOT NULL, reports TEXT NOT NULL)',
      )
      sql.exec(
        'CREATE TABLE raw_rejected (seq INTEGER PRIMARY KEY, device_key INTEGER NOT NULL, received_at INTEGER NOT NULL, reports TEXT NOT NULL, error TEXT NOT NULL, rejected_at INTEGER NOT NULL)',
      )
      sql.exec(
        'INSERT INTO raw (device_key, received_at, reports) VALUES (?1, ?2, ?3)',
        deviceKey('dev_before_rates'),
        Date.now(),
        JSON.stringify([old]),
      )
    })
    await restartDurableObjects(model) // the next request starts the new code on that storage
    const columns = await runInDurableObject(shardStub(env, model, 0), (_shard: TelemetryShard, state) => ({
      raw: state.storage.sql
        .exec<{ name: string }>('PRAGMA table_info(raw)')
        .toArray()
        .map((c) => c.name),
      rejected: state.storage.sql
        .exec<{ name: string }>('PRAGMA table_info(raw_rejected)')
        .toArray()
        .map((c) => c.name),
      rates: state.storage.sql
        .exec<{ sample_rate: number }>('SELECT sample_rate FROM raw')
        .toArray()
        .map((r) => r.sample_rate),
    }))
    expect(columns).toEqual({
      raw: expect.arrayContaining(['sample_rate']),
      rejected: expect.arrayContaining(['sample_rate']),
      rates: [1],
    })

    // New batches land beside the old row; reads and compaction weigh each by its own rate.
    const sent = await sendFleet(4, { devices: 4, sampled: 2, starts: [minuteAgo(2)] })
    const oldRow = {
      exact: { devices: 1, reports: 1, inferences: old.counts.inferences, errors: old.counts.errors },
      estimated: { devices: 1, reports: 1, inferences: old.counts.inferences, errors: old.counts.errors },
    }
    const fresh = expected(sent)
    const want = {
      exact: {
        devices: 5,
        reports: 5,
        inferences: fresh.exact.inferences + oldRow.exact.inferences,
        errors: fresh.exact.errors + oldRow.exact.errors,
      },
      estimated: {
        devices: fresh.estimated.devices + 1,
        reports: fresh.estimated.reports + 1,
        inferences: fresh.estimated.inferences + oldRow.estimated.inferences,
        errors: fresh.estimated.errors + oldRow.estimated.errors,
      },
    }
    expect(await merged(minuteAgo(30))).toEqual(want)
    await runAlarms(Date.now() + 60_000)
    expect((await stored()).raw).toBe(0)
    expect(await merged(minuteAgo(30))).toEqual(want)
  })

  it('documents the estimates in the OpenAPI schema of the fleet view', async () => {
    const spec = (await (await SELF.fetch('http://edge.test/openapi.json')).json()) as any
    const text =
      JSON.stringify(spec.paths['/v1/models/{model}/telemetry'].get.responses['200']) +
      JSON.stringify(spec.components?.schemas ?? {})
    expect(text).toContain('"minSampleRate"')
    expect(text).toContain('"estimated"')
  })
})
