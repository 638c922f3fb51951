import { beforeEach, describe, expect, it } from 'vitest'
import { RolloutView } from '../../core/formats/rollout.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, createModel, resetState, upload } from './api.ts'
import { alarmAt, armReport, devicesIn, MIN } from './rollout-fixtures.ts'
import { appKey, makeBatch, postBatch, PROFILE, uniqueModel } from './telemetry-fixtures.ts'

let key: string
let model: string

/** Publishes a version with a `gpu` and a `cpu` variant; returns its number. */
async function publishWithVariants(seed: number): Promise<number> {
  const files = [
    await upload('model_fp16.onnx', new Uint8Array([16, seed])),
    await upload('model_q8.onnx', new Uint8Array([8, seed])),
  ]
  const variants = [
    { name: 'gpu', files: ['model_fp16.onnx'], requires: { webgpu: true } },
    { name: 'cpu', files: ['model_q8.onnx'] },
  ]
  const res = await api('POST', `/v1/models/${model}/versions`, { body: { files, profile: PROFILE, variants } })
  expect(res.status, await res.clone().text()).toBe(201)
  return (await bodyOf(res)).version
}

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = uniqueModel('rollout-variants')
  await createModel(model)
  await publishWithVariants(1)
  await api('PUT', `/v1/models/${model}/aliases/production`, { body: { version: 1 } })
})

describe('the slice_gap guardrail per variant', { timeout: 60_000 }, () => {
  it('rolls back a candidate whose GPU build errs while its CPU build is fine, naming the variant', async () => {
    const candidate = await publishWithVariants(2)
    const started = await api('POST', `/v1/models/${model}/rollouts`, {
      body: {
        candidate,
        mode: 'canary',
        steps: [
          { percent: 50, minDevices: 5, minInferences: 50 },
          { percent: 100, minDevices: 5 },
        ],
        guardrails: [{ metric: 'slice_gap', dimension: 'variant', max: 0.1 }],
        evaluationSeconds: 30,
        ttlSeconds: 5,
      },
    })
    expect(started.status, await started.clone().text()).toBe(201)
    const r = RolloutView.parse(await bodyOf(started))
    const rand = seededRandom(3)
    const minute = Math.floor(r.stepStartedAt / MIN) * MIN
    for (const arm of ['baseline', 'candidate'] as const)
      for (const variant of ['gpu', 'cpu'])
        for (const device of devicesIn(r.id, 50, arm, 6, variant)) {
          const errors = arm === 'candidate' && variant === 'gpu' ? 5 : 0
          const report = armReport(rand, {
            model,
            rollout: r.id,
            arm,
            version: arm === 'candidate' ? candidate : 1,
            start: minute,
            inferences: 20,
            errors,
          })
          const res = await postBatch(makeBatch(device, [{ ...report, variant }]), key)
          expect(res.status, await res.clone().text()).toBe(202)
        }
    await alarmAt(model, r.stepStartedAt + 30_000)
    const now = RolloutView.parse(await bodyOf(await api('GET', `/v1/models/${model}/rollouts/current`)))
    expect(now).toMatchObject({ status: 'rolled_back', reason: 'guardrail:slice_gap' })
    const [g] = now.lastDecision!.evidence.guardrails as any[]
    expect(g).toMatchObject({
      status: 'breach',
      value: 0.25,
      slice: { dimension: 'variant', value: 'gpu' },
      stats: { candidateRate: 0.25, baselineRate: 0, candidateDevices: 6, baselineDevices: 6 },
    })
  })
})
