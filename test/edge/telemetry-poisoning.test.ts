import {
  createExecutionContext,
  env,
  listDurableObjectIds,
  runInDurableObject,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { Report } from '../../core/formats/telemetry.ts'
import type { RolloutView } from '../../core/formats/rollout.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import worker from '../../edge/index.ts'
import { rollupMinutes } from '../../edge/telemetry/compaction.ts'
import { shardOf, shardStub } from '../../edge/telemetry/ingest.ts'
import type { TelemetryShard } from '../../edge/telemetry/shard.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, resetState } from './api.ts'
import {
  compactAll,
  evaluate,
  fleetView,
  honestArms,
  inspectShards,
  SHARDS,
  startHoldingRollout,
  storeUnchecked,
  totalsOf,
  type View,
} from './poison-fixtures.ts'
import { armReport, devicesIn, MIN, publishVersion } from './rollout-fixtures.ts'
import { appKey, makeBatch, postBatch, setupModel } from './telemetry-fixtures.ts'

let key: string
let model: string
let candidate: number
let rollout: RolloutView
let from: number
let attackers = 0

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = await setupModel('poison')
  candidate = await publishVersion(model, 17)
  rollout = await startHoldingRollout(model, candidate)
  from = Math.floor(rollout.stepStartedAt / MIN) * MIN - 30 * MIN
  await honestArms(model, key, rollout, candidate)
})

/** A valid report of an attacker's device in the candidate arm, to be made absurd by the caller. */
function attackerReport(): { device: string; report: Report } {
  const device = devicesIn(rollout.id, 50, 'candidate', ++attackers, 'attacker').at(-1)!
  const start = Math.floor(rollout.stepStartedAt / MIN) * MIN
  const report = armReport(seededRandom(attackers), {
    model,
    rollout: rollout.id,
    arm: 'candidate',
    version: candidate,
    start,
    inferences: 20,
  })
  return { device, report }
}

const sketch = (o: Record<string, unknown>) => ({ v: 1, alpha: 0.01, zero: 0, offset: 81, counts: [1], n: 1, ...o })

/** The poisoning batches: each must be a final 400 at its pointer, counted under its reason. */
const CASES: {
  name: string
  make: (r: Report) => Report | { batch: Record<string, unknown> }
  pointer: string
  reason: string
}[] = [
  {
    name: 'a latency sketch summing to 1e308',
    make: (r) => ({ ...r, latency: sketch({ sum: 1e308, min: 5, max: 5 }) as Report['latency'] }),
    pointer: '/reports/0/latency/sum',
    reason: 'sketch_inconsistent',
  },
  {
    name: 'a latency count of 5e15',
    make: (r) => ({
      ...r,
      counts: { ...r.counts, inferences: 5e15 },
      latency: new DDSketch().add(5, 5e15).toJSON(),
    }),
    pointer: '/reports/0/counts/inferences',
    reason: 'inferences_over_window',
  },
  {
    name: '5e15 in one feature bin',
    make: (r) => ({ ...r, features: { ...r.features, temp_max: { counts: [5e15, 0, 0], missing: 0 } } }),
    pointer: '/reports/0/features/temp_max',
    reason: 'histogram_over_window',
  },
  {
    name: '1e12 inferences and 1e12 labels, none correct',
    make: (r) => ({
      ...r,
      counts: { ...r.counts, inferences: 1e12 },
      feedback: { labeled: 1e12, correct: 0 },
    }),
    pointer: '/reports/0/counts/inferences',
    reason: 'inferences_over_window',
  },
  {
    name: 'bins at offset 1e15 with min = max = 1e300',
    make: (r) => ({
      ...r,
      latency: sketch({ offset: 1e15, counts: [20], n: 20, sum: 2e301, min: 1e300, max: 1e300 }) as Report['latency'],
    }),
    pointer: '/reports/0/latency/offset',
    reason: 'sketch_inconsistent',
  },
  {
    name: '5e15 data-quality rows for one feature',
    make: (r) => ({
      ...r,
      quality: {
        temp_max: { rows: 5e15, missing: 0, nonFinite: 0, wrongType: 0, outOfRange: 0, unknownCategory: 0 },
      },
    }),
    pointer: '/reports/0/quality/temp_max/rows',
    reason: 'quality_over_window',
  },
  {
    name: 'data-quality counts under a name the profile lacks (free text)',
    make: (r) => ({
      ...r,
      quality: {
        'jane@example.com': { rows: 1, missing: 1, nonFinite: 0, wrongType: 0, outOfRange: 0, unknownCategory: 0 },
      },
    }),
    pointer: '/reports/0/quality/jane@example.com',
    reason: 'unknown_quality_feature',
  },
  {
    name: 'errors beyond inferences (an error rate of 1000)',
    make: (r) => ({ ...r, counts: { ...r.counts, inferences: 20, errors: 20_000, loads: 0, cacheHits: 0 } }),
    pointer: '/reports/0/counts/errors',
    reason: 'errors_over_attempts',
  },
  {
    name: 'labels beyond the window',
    make: (r) => ({ ...r, feedback: { labeled: 2_000_000, correct: 0 } }),
    pointer: '/reports/0/feedback/labeled',
    reason: 'labeled_over_window',
  },
  {
    name: 'sampleRate 5e-324',
    make: () => ({ batch: { sampleRate: 5e-324 } }),
    pointer: '/sampleRate',
    reason: 'sample_rate_below_floor',
  },
]

describe('poisoned telemetry is refused at the door', { timeout: 120_000 }, () => {
  it('answers every poisoning batch of the issue with a final 400 at its pointer; the fleet view and rollout evaluation stay as the honest devices made them', async () => {
    const honestView = await fleetView(model, from)
    expect(honestView.cohorts).toHaveLength(2)
    const honestDecision = await evaluate(model, rollout)
    expect(honestDecision).toMatchObject({ action: 'hold', reason: 'insufficient_time' })
    for (const c of CASES) {
      const { device, report } = attackerReport()
      const made = c.make(report)
      const batch = 'batch' in made ? { ...makeBatch(device, [report]), ...made.batch } : makeBatch(device, [made])
      // Sent twice, in consecutive minutes' batches, as the issue's attacker did.
      for (let i = 0; i < 2; i++) {
        const res = await postBatch({ ...batch, batchId: `${batch.batchId.slice(0, 30)}_${i}` }, key)
        expect(res.status, c.name).toBe(400)
        expect((await bodyOf(res)).error, c.name).toMatchObject({ code: 'validation_failed', pointer: c.pointer })
      }
      expect(await fleetView(model, from), c.name).toEqual({ ...honestView, refused: expect.any(Object) })
      expect(await evaluate(model, rollout), c.name).toEqual(honestDecision)
    }
    expect(await inspectShards(model)).toMatchObject({ rejected: 0, rejectedCells: 0 })
    // Each refusal is counted under its reason, against the model it named.
    const expected: Record<string, number> = {}
    for (const c of CASES) expected[c.reason] = (expected[c.reason] ?? 0) + 2
    await vi.waitFor(async () => expect((await fleetView(model, from)).refused).toEqual(expected), { timeout: 5_000 })
  })
})

describe('refusal counts', { timeout: 60_000 }, () => {
  it('are listed per model and reason; a made-up model counts under none and gets no shard of its own', async () => {
    const { device, report } = attackerReport()
    const made = `made-up-${crypto.randomUUID().slice(0, 8)}`
    const shards = async () => (await listDurableObjectIds(env.TELEMETRY_SHARD)).length
    const before = await shards()
    const cases: [Report, string][] = [
      [{ ...report, model: made }, '/reports/0/model'],
      [{ ...report, model: made, counts: { ...report.counts, inferences: 1e12 } }, '/reports/0/counts/inferences'],
      [{ ...report, counts: { ...report.counts, errors: 1e6 } }, '/reports/0/counts/errors'],
    ]
    for (const [r, pointer] of cases) {
      const res = await postBatch(makeBatch(device, [r]), key)
      expect(res.status).toBe(400)
      expect((await bodyOf(res)).error.pointer).toBe(pointer)
    }
    const read = async () => {
      const res = await api('GET', `/v1/telemetry/refusals?from=${from}`)
      expect(res.status).toBe(200)
      return (await bodyOf(res)).refusals as { model: string | null; reason: string; count: number }[]
    }
    await vi.waitFor(async () =>
      expect(await read()).toEqual(
        expect.arrayContaining([
          { model: null, reason: 'unknown_model', count: 1 },
          { model: null, reason: 'inferences_over_window', count: 1 },
          { model, reason: 'errors_over_attempts', count: 1 },
        ]),
      ),
    )
    // The refusals shard may be new; no shard of the made-up model was created.
    expect(await shards()).toBeLessThanOrEqual(before + 1)
    expect((await api('GET', '/v1/telemetry/refusals', { token: key })).status).toBe(403)
    expect((await api('GET', '/v1/telemetry/refusals?from=0x1')).status).toBe(400)
  })
})

describe('telemetry stored before the bounds existed', { timeout: 120_000 }, () => {
  const poisoned = (r: Report): Report[] => [
    { ...r, latency: sketch({ sum: 1e308, min: 5, max: 5 }) as Report['latency'] },
    { ...r, counts: { ...r.counts, inferences: 1e12 }, feedback: { labeled: 1e12, correct: 0 } },
  ]

  it('is left out of reads, whole, and compaction quarantines it without touching a cell', async () => {
    const honestView = await fleetView(model, from)
    const honestDecision = await evaluate(model, rollout)
    for (const make of [0, 1]) {
      const { device, report } = attackerReport()
      await storeUnchecked(model, device, [report, poisoned(report)[make]])
    }
    const read = await fleetView(model, from)
    expect(read.skipped).toBe(2)
    expect(totalsOf(read)).toEqual(totalsOf(honestView))
    expect(await evaluate(model, rollout)).toEqual(honestDecision)

    await compactAll(model)
    const after = await fleetView(model, from)
    expect(after.skipped).toBe(0)
    expect(totalsOf(after)).toEqual(totalsOf(honestView))
    expect(await inspectShards(model)).toMatchObject({ raw: 0, rejected: 2, rejectedCells: 0 })
    expect(await evaluate(model, rollout)).toEqual(honestDecision)
  })

  it('leaves a poisoned stored cell out of reads, and a rollup quarantines it while the other minutes roll up', async () => {
    await compactAll(model)
    const honestView = await fleetView(model, from)
    const honestDecision = await evaluate(model, rollout)
    // A cell of the candidate arm two minutes before the step, as a shard before the bounds could have stored it.
    const { device, report } = attackerReport()
    const shard = shardStub(env, model, shardOf(device, SHARDS))
    const start = Math.floor(rollout.stepStartedAt / MIN) * MIN - 2 * MIN
    await storeUnchecked(model, device, [{ ...report, window: { start, end: start + MIN } }])
    await compactAll(model)
    await runInDurableObject(shard, (_: TelemetryShard, state: DurableObjectState) => {
      const row = state.storage.sql
        .exec<{ data: string }>("SELECT data FROM agg WHERE grain = 'minute' AND start = ?1", start)
        .one()
      const cell = JSON.parse(row.data)
      cell.counts.inferences = 1e12
      cell.latency.sum = 1e308
      state.storage.sql.exec(
        "UPDATE agg SET data = ?1 WHERE grain = 'minute' AND start = ?2",
        JSON.stringify(cell),
        start,
      )
    })
    const read = await fleetView(model, from)
    expect(read.skipped).toBe(1)
    // The attacker's own per-device row is valid, so its device still counts in the median weight
    // that sets the cap (one more device moves it a little); every figure is the honest one.
    const capOf = (t: View['cohorts'][number]['total']) => (t.suppressed ? undefined : t.deviceCap)
    const uncapped = (v: View) => totalsOf(v).map((c) => ({ ...c, total: { ...c.total, deviceCap: null } }))
    expect(uncapped(read)).toEqual(uncapped(honestView))
    read.cohorts.forEach((c, i) => {
      const honestCap = capOf(honestView.cohorts[i].total)
      if (honestCap == null) expect(capOf(c.total)).toBe(honestCap)
      else expect(Math.abs(capOf(c.total)! - honestCap) / honestCap).toBeLessThan(0.05)
    })
    expect(await evaluate(model, rollout)).toEqual(honestDecision)

    // A day later every minute rolls up; the poisoned one is moved aside whole, the job does not fail.
    const later = Date.now() + 25 * 3_600_000
    for (let i = 0; i < SHARDS; i++)
      await runInDurableObject(shardStub(env, model, i), (_: TelemetryShard, state: DurableObjectState) => {
        state.storage.transactionSync(() => rollupMinutes(state.storage.sql, later, { rollupAfterMs: 24 * 3_600_000 }))
      })
    const shards = await inspectShards(model)
    expect(shards).toMatchObject({ minuteCells: 0, rejectedCells: 1 })
    expect(shards.hourCells).toBeGreaterThan(0)
    const hourly = await api('GET', `/v1/models/${model}/telemetry?granularity=hour&from=${from - 3_600_000}`)
    expect(hourly.status).toBe(200)
    const view = await bodyOf(hourly)
    expect(view.skipped).toBe(0)
    const inferences = (v: View) => v.cohorts.map((c) => (c.total.suppressed ? null : c.total.inferences))
    expect(inferences(view)).toEqual(inferences(honestView))
  })
})

describe('rotating device ids from one app key', { timeout: 120_000 }, () => {
  it('are held by the limit per app key and client address (CF-Connecting-IP); another address is not', async () => {
    // The Worker's own fetch, in this isolate: hundreds of requests through SELF would slow down (see README, Limits).
    const send = async (i: number, ip: string) => {
      const ctx = createExecutionContext()
      const res = await worker.fetch(
        new Request('http://edge.test/v1/telemetry', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Edgefleet-Key': key, 'CF-Connecting-IP': ip },
          body: JSON.stringify(makeBatch(`dev_rotating_${i.toString().padStart(6, '0')}`, [])),
        }),
        env,
        ctx,
      )
      await waitOnExecutionContext(ctx)
      return res
    }
    const statuses: number[] = []
    let limited: Response | undefined
    for (let i = 0; i < 650; i++) {
      const res = await send(i, '203.0.113.7')
      statuses.push(res.status)
      if (res.status === 429) limited ??= res
    }
    // 600 a minute per key and address (wrangler.toml); a minute boundary may reset the count once.
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(50)
    expect(statuses.filter((s) => s === 202).length).toBeLessThanOrEqual(600)
    expect(limited!.headers.get('Retry-After')).toBe('60')
    expect((await bodyOf(limited!)).error.code).toBe('rate_limited')
    expect((await send(10_000, '198.51.100.23')).status).toBe(202)
  })
})
