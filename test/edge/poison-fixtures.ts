import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { expect } from 'vitest'
import type { FleetCohort, FleetView } from '../../core/formats/fleet.ts'
import type { Report } from '../../core/formats/telemetry.ts'
import { RolloutView } from '../../core/formats/rollout.ts'
import { deviceKey } from '../../core/telemetry/device-set.ts'
import { shardOf, shardStub } from '../../edge/telemetry/ingest.ts'
import type { TelemetryShard } from '../../edge/telemetry/shard.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf } from './api.ts'
import { alarmAt, armReport, devicesIn, MIN } from './rollout-fixtures.ts'
import { makeBatch, postBatch } from './telemetry-fixtures.ts'

/** Shards per model (wrangler.toml). */
export const SHARDS = 4

/** A fleet view without `generatedAt` and `to` (which move with the clock). */
export type View = Omit<FleetView, 'generatedAt' | 'to'>

/** The fleet view by minute from `from`: every figure that poisoning must not move. */
export async function fleetView(model: string, from: number): Promise<View> {
  const res = await api('GET', `/v1/models/${model}/telemetry?granularity=minute&from=${from}`)
  expect(res.status).toBe(200)
  const { generatedAt: _generatedAt, to: _to, ...view } = await bodyOf(res)
  return view
}

/** The cohorts of a view without the per-minute series (what a poisoned minute would show in). */
export function totalsOf(view: View): Omit<FleetCohort, 'series'>[] {
  return view.cohorts.map((c) => ({ version: c.version, role: c.role, rollout: c.rollout, total: c.total }))
}

/** A rollout whose step holds on time (10 h minimum), so every evaluation judges the same minute of data. */
export async function startHoldingRollout(model: string, candidate: number): Promise<RolloutView> {
  const res = await api('POST', `/v1/models/${model}/rollouts`, {
    body: {
      candidate,
      mode: 'canary',
      steps: [
        { percent: 50, minDevices: 5, minMinutes: 600 },
        { percent: 100, minDevices: 5 },
      ],
      guardrails: [
        { metric: 'error_rate', maxDiff: 0.05, minDevices: 5 },
        { metric: 'latency_p95', maxRatio: 1.5 },
        { metric: 'accuracy', minRatio: 0.5, minLabeled: 10 },
      ],
      evaluationSeconds: 30,
      ttlSeconds: 5,
    },
  })
  expect(res.status, await res.clone().text()).toBe(201)
  return RolloutView.parse(await bodyOf(res))
}

/** `n` honest devices per arm, each one report of 20 inferences at 4 ms with feedback, in the step's first minute. */
export async function honestArms(model: string, key: string, r: RolloutView, candidate: number, n = 6): Promise<void> {
  const rand = seededRandom(2024)
  const start = Math.floor(r.stepStartedAt / MIN) * MIN
  for (const [arm, version] of [
    ['candidate', candidate],
    ['baseline', 1],
  ] as const) {
    for (const d of devicesIn(r.id, 50, arm, n, 'honest')) {
      const report = armReport(rand, { model, rollout: r.id, arm, version, start, inferences: 20, errors: 1 })
      report.feedback = { labeled: 10, correct: arm === 'candidate' ? 8 : 9 }
      const res = await postBatch(makeBatch(d, [report]), key)
      expect(res.status).toBe(202)
    }
  }
}

let evaluations = 0
/** Runs the rollout's evaluation once more (each at a later clock) and returns its decision and arm figures. */
export async function evaluate(
  model: string,
  r: RolloutView,
): Promise<{ action: string; reason: string; arms: NonNullable<RolloutView['lastDecision']>['arms'] }> {
  await alarmAt(model, r.stepStartedAt + 30_000 * ++evaluations)
  const res = await api('GET', `/v1/models/${model}/rollouts/${r.id}`)
  expect(res.status).toBe(200)
  const view = RolloutView.parse(await bodyOf(res))
  expect(view.lastDecision, 'an evaluation ran and recorded its decision').not.toBeNull()
  const d = view.lastDecision!
  return { action: d.action, reason: d.reason, arms: d.arms }
}

/** Stores reports in a device's shard as an edge before telemetry/1's bounds would have (no checks). */
export async function storeUnchecked(model: string, device: string, reports: unknown[]): Promise<void> {
  const r = await shardStub(env, model, shardOf(device, SHARDS)).ingest({
    batchId: `b_unchecked_${crypto.randomUUID().replaceAll('-', '')}`.slice(0, 40),
    deviceKey: deviceKey(device),
    reports: JSON.stringify(reports),
    count: reports.length,
    sampleRate: 1,
    firstWindowStart: (reports[0] as Report).window.start,
  })
  expect(r).toEqual({ accepted: reports.length, duplicate: false })
}

/** Runs every shard's due jobs with its clock a minute ahead (compaction), then restores the clock. */
export async function compactAll(model: string): Promise<void> {
  for (let i = 0; i < SHARDS; i++) {
    const stub = shardStub(env, model, i)
    await runInDurableObject(stub, (shard: TelemetryShard) => {
      shard.now = () => Date.now() + 60_000
    })
    await runDurableObjectAlarm(stub)
    await runInDurableObject(stub, (shard: TelemetryShard) => {
      shard.now = () => Date.now()
    })
  }
}

/** Row counts of every shard of a model, summed. */
export async function inspectShards(model: string): Promise<Record<string, number>> {
  const all = await Promise.all(Array.from({ length: SHARDS }, (_, i) => shardStub(env, model, i).inspect()))
  const out: Record<string, number> = {}
  for (const s of all) for (const [k, v] of Object.entries(s)) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v
  return out
}
