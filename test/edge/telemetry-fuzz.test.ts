import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test'
import { beforeEach, describe, expect, it } from 'vitest'
import { FleetView, type CohortMetrics } from '../../core/formats/fleet.ts'
import type { Batch, Report } from '../../core/formats/telemetry.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import worker from '../../edge/index.ts'
import { seededDeviceIds, seededRandom } from '../../scripts/lib/random.ts'
import { absurdBatch } from './absurd-batches.ts'
import { api, bodyOf, resetState } from './api.ts'
import { compactAll, evaluate, inspectShards, startHoldingRollout } from './poison-fixtures.ts'
import { MIN, publishVersion } from './rollout-fixtures.ts'
import { appKey, makeBatch, makeReport, minuteAgo, setupModel } from './telemetry-fixtures.ts'

let key: string
let model: string

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = await setupModel('fuzz')
})

/** POSTs a batch through the Worker's own fetch in this isolate (a thousand through SELF would crawl). */
async function post(batch: Batch, ip: string): Promise<number> {
  const ctx = createExecutionContext()
  const res = await worker.fetch(
    new Request('http://edge.test/v1/telemetry', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Edgefleet-Key': key, 'CF-Connecting-IP': ip },
      body: JSON.stringify(batch),
    }),
    env,
    ctx,
  )
  await waitOnExecutionContext(ctx)
  await res.arrayBuffer()
  return res.status
}

/** An honest report: 20 inferences at 2–6 ms, 10 labels of which 8 correct, no error. */
function honestReport(rand: () => number, start: number): Report {
  const r = makeReport(rand, { model, start, inferences: 20 })
  const latency = new DDSketch()
  for (let i = 0; i < 20; i++) latency.add(2 + 4 * rand())
  return {
    ...r,
    counts: { inferences: 20, errors: 0, cacheHits: 0, loads: 0 },
    loadMs: new DDSketch().toJSON(),
    latency: latency.toJSON(),
    feedback: { labeled: 10, correct: 8 },
  }
}

async function view(granularity: 'minute' | 'hour'): Promise<FleetView> {
  const from = granularity === 'minute' ? minuteAgo(120) : minuteAgo(24 * 60)
  const res = await api('GET', `/v1/models/${model}/telemetry?granularity=${granularity}&from=${from}`)
  expect(res.status).toBe(200)
  return FleetView.parse(await bodyOf(res))
}

function honestCohort(v: FleetView): CohortMetrics {
  const total = v.cohorts.find((c) => c.version === 1 && c.role === 'primary' && c.rollout === null)!.total
  if (total.suppressed) throw new Error('suppressed')
  return total
}

describe('a seeded flood of absurd batches', { timeout: 240_000 }, () => {
  it('never gets a 5xx; afterwards the fleet view answers 200 and honest figures move at most as the stated cap allows', async () => {
    const candidate = await publishVersion(model, 5)
    const rollout = await startHoldingRollout(model, candidate)
    const rand = seededRandom(1_000_003)
    const honestDevices = seededDeviceIds(40, 17)
    const start = minuteAgo(3)
    for (const [i, d] of honestDevices.entries())
      expect(await post(makeBatch(d, [honestReport(rand, start)]), `192.0.2.${i % 8}`)).toBe(202)
    const honest = honestCohort(await view('minute'))
    expect(honest).toMatchObject({ devices: 40, cappedDevices: 0, feedback: { accuracy: 0.8 }, errorRate: 0 })
    const honestDecision = await evaluate(model, rollout)

    // 1200 batches from 60 rotating attacker ids and 30 addresses: within every rate limit, so each batch
    // meets the bounds (30 a minute per device, 600 per key and address).
    const attackers = seededDeviceIds(60, 99)
    const statuses = new Map<number, number>()
    for (let i = 0; i < 1200; i++) {
      const batch = absurdBatch(rand, attackers[i % 60]!, {
        model,
        versions: [1, 1, candidate, 99],
        rollouts: [rollout.id, 'ro_made_up'],
        lastMinute: Math.floor(Date.now() / MIN) * MIN,
      })
      const status = await post(batch, `198.51.100.${i % 30}`)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
    expect([...statuses.keys()].sort()).toEqual([202, 400])
    expect(statuses.get(400)!).toBeGreaterThan(600)
    expect(statuses.get(202)!).toBeGreaterThan(20)

    for (const phase of ['pending', 'compacted']) {
      if (phase === 'compacted') await compactAll(model)
      const hourly = await view('hour')
      const minutely = await view('minute')
      expect(minutely.skipped, phase).toBe(0)
      expect(Object.values(minutely.refused!).reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
      const total = honestCohort(minutely)
      expect(honestCohort(hourly).devices).toBe(total.devices)
      // Every device beyond the 40 honest ones weighs at most the cap W (inferences + errors + loads +
      // labels): the honest accuracy (0.8) can only fall to 320 correct of 400 labels plus W wrong ones,
      // and the error rate rise to W/2 errors (errors ≤ inferences + loads) over the 800 honest inferences.
      const extra = total.devices - 40
      const weight = extra * total.deviceCap!
      expect(extra, phase).toBeGreaterThan(0)
      expect(total.cappedDevices, phase).toBeGreaterThan(0)
      expect(total.feedback!.accuracy!, phase).toBeGreaterThanOrEqual(320 / (400 + weight) - 1e-9)
      expect(total.errorRate!, phase).toBeLessThanOrEqual(weight / 2 / 800 + 1e-9)
      expect(total.latencyMs, phase).not.toBeNull()
    }
    expect(await inspectShards(model)).toMatchObject({ rejected: 0, rejectedCells: 0 })
    // The rollout is still judged, on data the bounds let in.
    const after = await evaluate(model, rollout)
    expect(after.action).toMatch(/^(hold|rollback)$/)
    expect(honestDecision.action).toBe('hold')
  })
})
