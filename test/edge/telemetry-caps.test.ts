import { beforeEach, describe, expect, it } from 'vitest'
import type { CohortMetrics } from '../../core/formats/fleet.ts'
import type { Report } from '../../core/formats/telemetry.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { resetState } from './api.ts'
import { compactAll, evaluate, fleetView, honestArms, startHoldingRollout, type View } from './poison-fixtures.ts'
import { armReport, devicesIn, MIN, publishVersion } from './rollout-fixtures.ts'
import { appKey, makeBatch, makeReport, minuteAgo, postBatch, setupModel } from './telemetry-fixtures.ts'

let key: string
let model: string

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = await setupModel('caps')
})

/** An honest report: 20 inferences at 4 ms, 10 labels of which 8 correct, one error. */
function honestReport(rand: () => number, start: number): Report {
  const r = makeReport(rand, { model, start, inferences: 20 })
  return {
    ...r,
    counts: { inferences: 20, errors: 1, cacheHits: 0, loads: 0 },
    loadMs: new DDSketch().toJSON(),
    latency: new DDSketch().add(4, 20).toJSON(),
    feedback: { labeled: 10, correct: 8 },
  }
}

/** What one device can claim within telemetry/1's bounds in one minute: a million inferences at 60 s, none labeled right. */
function heaviestReport(rand: () => number, start: number): Report {
  return {
    ...honestReport(rand, start),
    counts: { inferences: 1_000_000, errors: 0, cacheHits: 0, loads: 0 },
    latency: new DDSketch().add(60_000, 1_000_000).toJSON(),
    feedback: { labeled: 1_000_000, correct: 0 },
  }
}

function primaryOf(view: View): CohortMetrics {
  const total = view.cohorts.find((c) => c.role === 'primary' && c.rollout === null)!.total
  if (total.suppressed) throw new Error('suppressed')
  return total
}

describe('per-device caps in the fleet view', { timeout: 60_000 }, () => {
  it('one device among ten honest ones weighs at most 4 median devices in accuracy and latency, pending or compacted', async () => {
    const rand = seededRandom(31)
    const start = minuteAgo(2)
    for (let d = 0; d < 10; d++)
      expect((await postBatch(makeBatch(`dev_honest_${d}`, [honestReport(rand, start)]), key)).status).toBe(202)
    const honest = primaryOf(await fleetView(model, minuteAgo(30)))
    expect(honest).toMatchObject({ cappedDevices: 0, devices: 10, feedback: { accuracy: 0.8 } })
    expect(honest.latencyMs!.p99).toBeCloseTo(4, 1)

    expect((await postBatch(makeBatch('dev_heaviest', [heaviestReport(rand, start)]), key)).status).toBe(202)
    for (const phase of ['pending', 'compacted']) {
      if (phase === 'compacted') await compactAll(model)
      const view = await fleetView(model, minuteAgo(30))
      const total = primaryOf(view)
      // Counts are as received; the figures weigh the device down to the cap.
      expect(total, phase).toMatchObject({ devices: 11, inferences: 1_000_200, cappedDevices: 1 })
      const cap = total.deviceCap!
      expect(cap / (4 * 31)).toBeCloseTo(1, 1) // 4 × the median device's 20 + 1 + 10 events
      // At worst all of its capped weight is wrong labels: accuracy ≥ 80 / (100 + cap).
      expect(total.feedback!.accuracy!).toBeGreaterThanOrEqual(80 / (100 + cap))
      expect(total.feedback!.accuracy!).toBeGreaterThan(0.4)
      // Its latencies are a minority of the capped mass: the median is the honest 4 ms.
      expect(total.latencyMs!.p50).toBeCloseTo(4, 1)
      expect(total.errorRate!).toBeLessThan(0.05 + 1e-9)
      const [point] = view.cohorts.find((c) => c.role === 'primary')!.series
      if (point.suppressed) throw new Error('suppressed')
      expect(point.accuracy).toBeCloseTo(total.feedback!.accuracy!, 9)
      expect(point.latencyMs!.p50).toBeCloseTo(4, 1)
    }
  })

  it('caps a device sampled at the floor rate in the estimates, against the median estimated device', async () => {
    const rand = seededRandom(32)
    const start = minuteAgo(2)
    for (let d = 0; d < 10; d++)
      expect((await postBatch(makeBatch(`dev_full_${d}`, [honestReport(rand, start)]), key)).status).toBe(202)
    const sampled = { ...makeBatch('dev_sampled', [honestReport(rand, start)]), sampleRate: 0.001 }
    expect((await postBatch(sampled, key)).status).toBe(202)
    const total = primaryOf(await fleetView(model, minuteAgo(30)))
    // Uncapped, its one report would stand for 1000 devices and 20,000 inferences.
    expect(total.estimated).not.toBeNull()
    expect(total.cappedDevices).toBe(1)
    expect(total.estimated!.inferences).toBeLessThan(220 + 1.05 * total.deviceCap!)
    expect(total.estimated!.inferences).toBeGreaterThan(220)
    expect(total.estimated!.devices).toBeLessThan(11 + 5)
    expect(total.minSampleRate).toBe(0.001)
  })
})

describe('per-device caps in rollout guardrails', { timeout: 60_000 }, () => {
  it('one candidate device with a million wrong labels does not breach the accuracy guardrail of six honest ones', async () => {
    const candidate = await publishVersion(model, 32)
    const rollout = await startHoldingRollout(model, candidate)
    await honestArms(model, key, rollout, candidate)
    const honest = await evaluate(model, rollout)
    expect(honest).toMatchObject({ action: 'hold', reason: 'insufficient_time' })
    const [attacker] = devicesIn(rollout.id, 50, 'candidate', 7, 'honest').slice(6)
    const report = armReport(seededRandom(5), {
      model,
      rollout: rollout.id,
      arm: 'candidate',
      version: candidate,
      start: Math.floor(rollout.stepStartedAt / MIN) * MIN,
      inferences: 1_000_000,
      latencyMs: 4,
    })
    report.feedback = { labeled: 1_000_000, correct: 0 }
    expect((await postBatch(makeBatch(attacker, [report]), key)).status).toBe(202)
    const after = await evaluate(model, rollout)
    expect(after).toMatchObject({ action: 'hold', reason: 'insufficient_time' })
    expect(after.arms.candidate.feedback.labeled).toBe(60 + 1_000_000) // as received
  })
})
