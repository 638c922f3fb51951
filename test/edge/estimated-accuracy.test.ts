import { beforeEach, describe, expect, it } from 'vitest'
import { calibrationVariance } from '../../core/estimate/calibration.ts'
import { estimatedAccuracy } from '../../core/estimate/estimated-accuracy.ts'
import { FleetView } from '../../core/formats/fleet.ts'
import { RolloutView } from '../../core/formats/rollout.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, createModel, resetState, upload } from './api.ts'
import {
  alarmAt,
  armReport,
  devicesIn,
  eventsOf,
  expectGuardrailsRefused,
  MIN,
  sendReports,
  startCanary,
} from './rollout-fixtures.ts'
import { appKey, makeBatch, postBatch, PROFILE, uniqueModel } from './telemetry-fixtures.ts'

/** A calibration map as `edgefleet profile --label` writes it (accuracies 0.4, 0.7, 0.95). */
const CALIBRATION = {
  method: 'histogram-pav',
  label: 'weather',
  edges: [0.6, 0.85],
  counts: [50, 100, 40],
  correct: [20, 70, 38],
}
const CALIBRATED = { ...PROFILE, calibration: CALIBRATION }

let key: string
let model: string

async function publish(profile: unknown, seed: number): Promise<number> {
  const file = await upload('model.onnx', new Uint8Array([7, 7, seed]))
  const res = await api('POST', `/v1/models/${model}/versions`, { body: { files: [file], profile } })
  expect(res.status, await res.clone().text()).toBe(201)
  return (await bodyOf(res)).version
}

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = uniqueModel('estimate')
  await createModel(model)
})

const minute = () => Math.floor(Date.now() / MIN) * MIN

describe('telemetry/1 calibrated at the edge', { timeout: 60_000 }, () => {
  it('merges calibrated sums of six devices into estimatedAccuracy with its interval, in the total and the series point', async () => {
    const v = await publish(CALIBRATED, 1)
    const start = minute()
    const rand = seededRandom(5)
    // Six devices, 20 predictions each: 4 at 0.4, 10 at 0.7, 6 at 0.95 (on the grid: 0.4 and 0.7 rounded).
    const p = (x: number) => Math.round(x * 2 ** 20) / 2 ** 20
    const sum = 4 * p(0.4) + 10 * p(0.7) + 6 * p(0.95)
    const sq = (x: number) => Math.round(p(x) * p(x) * 2 ** 20) / 2 ** 20
    const sumSq = 4 * sq(0.4) + 10 * sq(0.7) + 6 * sq(0.95)
    for (let d = 0; d < 6; d++) {
      const report = armReport(rand, { model, rollout: 'r_none', arm: 'baseline', version: v, start, inferences: 20 })
      const { rollout: _rollout, ...plain } = report
      const res = await postBatch(
        makeBatch(`dev_est_${d}_000000`, [{ ...plain, calibrated: { count: 20, sum, sumSq } }]),
        key,
      )
      expect(res.status, await res.clone().text()).toBe(202)
    }
    const res = await api('GET', `/v1/models/${model}/telemetry?granularity=minute&from=${start - 10 * MIN}`)
    expect(res.status).toBe(200)
    const view = FleetView.parse(await bodyOf(res))
    const [cohort] = view.cohorts
    if (cohort.total.suppressed) throw new Error('suppressed')
    const expected = estimatedAccuracy(
      { count: 120, sum: 6 * sum, sumSq: 6 * sumSq },
      calibrationVariance(CALIBRATION as never),
    )
    expect(cohort.total.estimatedAccuracy).toEqual(expected)
    expect(expected!.value).toBeCloseTo((4 * 0.4 + 10 * 0.7 + 6 * 0.95) / 20, 5)
    const point = cohort.series.find((s) => !s.suppressed)
    expect(point && !point.suppressed && point.estimatedAccuracy).toEqual(expected)
  })

  it('refuses calibrated sums for a version without a calibration map, beyond inferences, or off the grid; nothing is counted', async () => {
    const plainVersion = await publish(PROFILE, 2)
    const calibrated = await publish(CALIBRATED, 3)
    const start = minute()
    const rand = seededRandom(6)
    const cases: [number, unknown, string, string][] = [
      [plainVersion, { count: 10, sum: 7, sumSq: 5 }, '/reports/0/calibrated', 'no calibration map'],
      [calibrated, { count: 21, sum: 7, sumSq: 5 }, '/reports/0/calibrated/count', 'must not exceed inferences'],
      [calibrated, { count: 10, sum: 0.1, sumSq: 0 }, '/reports/0/calibrated/sum', ''],
      [calibrated, { count: 10, sum: 5, sumSq: 6 }, '/reports/0/calibrated/sumSq', ''],
      [calibrated, { count: 10, sum: 5, sumSq: 4, score: 0.93 }, '/reports/0/calibrated', ''],
    ]
    for (const [version, sums, pointer, reason] of cases) {
      const { rollout: _r, ...report } = armReport(rand, {
        model,
        rollout: 'r',
        arm: 'baseline',
        version,
        start,
        inferences: 20,
      })
      const res = await postBatch(makeBatch('dev_est_bad_000001', [{ ...report, calibrated: sums } as never]), key)
      expect(res.status, pointer).toBe(400)
      const { error } = await bodyOf(res)
      expect(error.code).toBe('validation_failed')
      expect(error.pointer, JSON.stringify(error)).toBe(pointer)
      if (reason !== '') expect(error.message).toContain(reason)
    }
    const view = FleetView.parse(
      await bodyOf(await api('GET', `/v1/models/${model}/telemetry?from=${start - 10 * MIN}`)),
    )
    expect(view.cohorts).toEqual([])
  })
})

describe('guardrail estimated_accuracy', { timeout: 120_000 }, () => {
  it('rolls back a candidate whose estimated accuracy falls below minRatio of the baseline, with both estimates in the evidence', async () => {
    const baseline = await publish(CALIBRATED, 4)
    await api('PUT', `/v1/models/${model}/aliases/production`, { body: { version: baseline } })
    const candidate = await publish(CALIBRATED, 5)
    const r = await startCanary(model, {
      candidate,
      guardrails: [{ metric: 'estimated_accuracy', minRatio: 0.9, minPredictions: 100 }],
    })
    const start = Math.floor(r.stepStartedAt / MIN) * MIN
    const rand = seededRandom(13)
    // Baseline: every prediction in the 0.7 bin (0.7 on the grid); candidate: all in the 0.4 bin.
    const p7 = Math.round(0.7 * 2 ** 20) / 2 ** 20
    const p4 = Math.round(0.4 * 2 ** 20) / 2 ** 20
    const sums = (p: number) => ({ count: 20, sum: 20 * p, sumSq: 20 * (Math.round(p * p * 2 ** 20) / 2 ** 20) })
    const common = { model, rollout: r.id, start, inferences: 20 }
    await sendReports(key, devicesIn(r.id, 20, 'candidate', 6, 'e'), rand, {
      ...common,
      arm: 'candidate',
      version: candidate,
      calibrated: sums(p4),
    })
    await sendReports(key, devicesIn(r.id, 20, 'baseline', 6, 'e'), rand, {
      ...common,
      arm: 'baseline',
      version: baseline,
      calibrated: sums(p7),
    })
    await alarmAt(model, r.stepStartedAt + 30_000)
    const now = RolloutView.parse(await bodyOf(await api('GET', `/v1/models/${model}/rollouts/current`)))
    expect(now).toMatchObject({ status: 'rolled_back', percent: 0, reason: 'guardrail:estimated_accuracy' })
    const g = (now.lastDecision!.evidence.guardrails as any[])[0]
    expect(g).toMatchObject({
      metric: 'estimated_accuracy',
      status: 'breach',
      limit: 0.9,
      stats: { baselinePredictions: 120, candidatePredictions: 120 },
    })
    expect(g.value).toBeCloseTo(0.4 / 0.7, 5)
    expect(now.lastDecision!.arms.candidate.estimatedAccuracy?.value).toBeCloseTo(0.4, 5)
    expect(now.lastDecision!.arms.baseline.estimatedAccuracy?.value).toBeCloseTo(0.7, 5)
    const [event] = await eventsOf(model, 'rollout.rolled_back')
    expect(event).toMatchObject({ details: { reason: 'guardrail:estimated_accuracy' } })
  })

  it('refuses a malformed estimated_accuracy guardrail with a pointer', async () => {
    await publish(CALIBRATED, 6)
    await api('PUT', `/v1/models/${model}/aliases/production`, { body: { version: 1 } })
    const candidate = await publish(CALIBRATED, 7)
    await expectGuardrailsRefused(model, candidate, [
      [{ metric: 'estimated_accuracy', minRatio: 0 }, '/guardrails/0/minRatio'],
      [{ metric: 'estimated_accuracy', minRatio: 0.9, minPredictions: 0 }, '/guardrails/0/minPredictions'],
      [{ metric: 'estimated_accuracy' }, '/guardrails/0/minRatio'],
    ])
  })
})
