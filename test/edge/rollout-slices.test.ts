import { describe, beforeEach, expect, it } from 'vitest'
import type { Arm } from '../../core/formats/common.ts'
import { RolloutView } from '../../core/formats/rollout.ts'
import type { DeviceCaps } from '../../core/formats/telemetry.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, resetState } from './api.ts'
import {
  alarmAt,
  armReport,
  canarySteps,
  devicesIn,
  eventsOf,
  expectGuardrailsRefused,
  MIN,
  publishVersion,
  startCanary,
} from './rollout-fixtures.ts'
import { appKey, makeBatch, postBatch, setupModel } from './telemetry-fixtures.ts'

let key: string
let model: string
let candidate: number

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = await setupModel('rollout-slices')
  candidate = await publishVersion(model, 1)
})

function start(guardrails: unknown[]): Promise<RolloutView> {
  return startCanary(model, { candidate, steps: canarySteps(50), guardrails })
}

async function current(): Promise<RolloutView> {
  return RolloutView.parse(await bodyOf(await api('GET', `/v1/models/${model}/rollouts/current`)))
}

/**
 * Six devices per platform and arm, one report of 20 inferences each in the step's first minute;
 * `errors(arm, platform)` errors per report.
 */
async function sendArms(r: RolloutView, errors: (arm: Arm, platform: string) => number, seed: number): Promise<void> {
  const rand = seededRandom(seed)
  const minute = Math.floor(r.stepStartedAt / MIN) * MIN
  for (const arm of ['baseline', 'candidate'] as const) {
    for (const platform of ['linux', 'windows']) {
      for (const device of devicesIn(r.id, 50, arm, 6, `${platform}${seed}`)) {
        const report = armReport(rand, {
          model,
          rollout: r.id,
          arm,
          version: arm === 'candidate' ? candidate : 1,
          start: minute,
          inferences: 20,
          errors: errors(arm, platform),
        })
        const caps: DeviceCaps = { webgpu: false, platform, browser: 'chromium', deviceMemory: 8 }
        const batch = makeBatch(device, [report])
        const res = await postBatch({ ...batch, device: { ...batch.device, caps } }, key)
        expect(res.status).toBe(202)
      }
    }
  }
}

describe('the slice_gap guardrail', { timeout: 60_000 }, () => {
  it('rolls back a candidate that errs on one platform only, naming the slice in the evidence and the event', async () => {
    const r = await start([{ metric: 'slice_gap', dimension: 'platform', max: 0.1 }])
    // Candidate: 5 of 20 inferences fail on windows (0.25), none on linux; the baseline never fails.
    await sendArms(r, (arm, platform) => (arm === 'candidate' && platform === 'windows' ? 5 : 0), 1)
    await alarmAt(model, r.stepStartedAt + 30_000)
    const now = await current()
    expect(now).toMatchObject({ status: 'rolled_back', percent: 0, reason: 'guardrail:slice_gap' })
    const [g] = now.lastDecision!.evidence.guardrails as any[]
    expect(g).toMatchObject({
      metric: 'slice_gap',
      status: 'breach',
      value: 0.25,
      limit: 0.1,
      slice: { dimension: 'platform', value: 'windows' },
      stats: { candidateRate: 0.25, baselineRate: 0, candidateDevices: 6, baselineDevices: 6 },
    })
    // On average over its devices the candidate errs 0.125: the slice is what stopped it.
    expect(now.lastDecision!.arms.candidate.errorRate).toBeCloseTo(0.125, 12)
    const [event] = await eventsOf(model, 'rollout.rolled_back')
    expect(event.details).toMatchObject({ reason: 'guardrail:slice_gap' })
    expect(JSON.stringify(event.details)).toContain('"slice":{"dimension":"platform","value":"windows"}')
  })

  it('keeps a candidate as good as the baseline on every platform, and does not judge slices under minDevices', async () => {
    const r = await start([
      { metric: 'slice_gap', dimension: 'platform', max: 0.1 },
      { metric: 'slice_gap', dimension: 'platform', max: 0.1, minDevices: 7 },
    ])
    await sendArms(r, (_, platform) => (platform === 'windows' ? 1 : 0), 2)
    await alarmAt(model, r.stepStartedAt + 30_000)
    const now = await current()
    expect(now.status).toBe('running')
    const [judged, unjudged] = now.lastDecision!.evidence.guardrails as any[]
    expect(judged).toMatchObject({ status: 'ok', value: 0, slice: { dimension: 'platform' } })
    expect(unjudged).toMatchObject({ status: 'not_judged', reason: 'insufficient_devices', value: null })
  })

  it('refuses a malformed slice_gap guardrail with validation_failed and a pointer, starting nothing', async () => {
    const cases: [unknown, string][] = [
      [{ metric: 'slice_gap', dimension: 'country', max: 0.1 }, '/guardrails/0/dimension'],
      [{ metric: 'slice_gap', dimension: 'platform', max: 1 }, '/guardrails/0/max'],
      [{ metric: 'slice_gap', dimension: 'platform', max: 0.1, measure: 'latency' }, '/guardrails/0/measure'],
    ]
    await expectGuardrailsRefused(model, candidate, cases)
  })
})
