import { beforeEach, describe, expect, it } from 'vitest'
import { FleetView } from '../../core/formats/fleet.ts'
import type { Report } from '../../core/formats/telemetry.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, createModel, resetState, upload } from './api.ts'
import { appKey, makeBatch, makeReport, minuteAgo, postBatch, PROFILE, uniqueModel } from './telemetry-fixtures.ts'

let key: string
let model: string

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = uniqueModel('variants')
  await createModel(model)
  const files = [
    await upload('model_fp16.onnx', new Uint8Array([1, 6])),
    await upload('model_q8.onnx', new Uint8Array([8])),
    await upload('model_q4.onnx', new Uint8Array([4])),
  ]
  const variants = [
    { name: 'fp16', files: ['model_fp16.onnx'], requires: { webgpu: true, f16: true } },
    { name: 'q8', files: ['model_q8.onnx'], requires: { minDeviceMemory: 4 } },
    { name: 'q4', files: ['model_q4.onnx'] },
  ]
  const res = await api('POST', `/v1/models/${model}/versions`, { body: { files, profile: PROFILE, variants } })
  expect(res.status, await res.clone().text()).toBe(201)
  // v2: no variants.
  await api('POST', `/v1/models/${model}/versions`, { body: { files: [files[2]], profile: PROFILE } })
})

/** `devices` devices on `variant`, each one report with `errors` errors of 100 inferences. */
async function send(variant: string, devices: number, errors: number): Promise<void> {
  const rand = seededRandom(devices * 7 + errors)
  for (let d = 0; d < devices; d++) {
    // No feedback: the gap compared is the error rate's.
    const { feedback: _feedback, ...base } = makeReport(rand, { model, start: minuteAgo(5), inferences: 100 })
    const report: Report = { ...base, variant }
    report.counts = { ...report.counts, inferences: 100, errors }
    const res = await postBatch(makeBatch(`dev_${variant}_${d.toString().padStart(4, '0')}`, [report]), key)
    expect(res.status, await res.clone().text()).toBe(202)
  }
}

describe('telemetry per variant', { timeout: 60_000 }, () => {
  it('slices the fleet view by variant: devices and every metric per variant, small variants suppressed, the largest gap named', async () => {
    await send('fp16', 6, 9)
    await send('q8', 5, 1)
    await send('q4', 2, 0)
    const res = await api('GET', `/v1/models/${model}/telemetry?granularity=hour&slice=variant`)
    expect(res.status, await res.clone().text()).toBe(200)
    const view = FleetView.parse(await bodyOf(res))
    expect(view.slices?.dimension).toBe('variant')
    const cohort = view.slices!.cohorts[0]
    expect(cohort).toMatchObject({ version: 1, role: 'primary' })
    expect(cohort.slices.fp16).toMatchObject({ suppressed: false, devices: 6, inferences: 600, errors: 54 })
    expect(cohort.slices.q8).toMatchObject({ suppressed: false, devices: 5, inferences: 500, errors: 5 })
    expect(cohort.slices.q4).toEqual({ suppressed: true, reason: 'fewer_than_min_devices', minDevices: 5 })
    expect(cohort.gap).toMatchObject({
      dimension: 'variant',
      metric: 'error_rate',
      worst: { slice: 'fp16', value: 0.09 },
      best: { slice: 'q8', value: 0.01 },
    })
  })

  it('refuses a report naming a variant its version does not have, with unknown_variant', async () => {
    const rand = seededRandom(5)
    for (const [version, variant] of [
      [1, 'fp32'],
      [2, 'q4'],
    ] as const) {
      const report = { ...makeReport(rand, { model, version, start: minuteAgo(3) }), variant }
      const res = await postBatch(makeBatch('dev_0123456789', [report]), key)
      expect(res.status).toBe(400)
      const { error } = await bodyOf(res)
      expect(error).toMatchObject({ code: 'validation_failed', pointer: '/reports/0/variant' })
      expect(error.message).toContain(`has no variant "${variant}"`)
    }
  })
})
