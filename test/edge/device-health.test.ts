import { beforeEach, describe, expect, it } from 'vitest'
import { FleetView } from '../../core/formats/fleet.ts'
import { RolloutView } from '../../core/formats/rollout.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, createModel, resetState } from './api.ts'
import {
  alarmAt,
  armReport,
  devicesIn,
  eventsOf,
  expectGuardrailsRefused,
  MIN,
  publishVersion,
  sendReports,
  startCanary,
} from './rollout-fixtures.ts'
import { appKey, makeBatch, postBatch, uniqueModel } from './telemetry-fixtures.ts'

let key: string
let model: string

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = uniqueModel('health')
  await createModel(model)
})

const minute = () => Math.floor(Date.now() / MIN) * MIN
const health = (deviceLost: number, oomLoad: number, oomRun: number, workerCrash: number, loadAbandoned: number) => ({
  deviceLost,
  oomLoad,
  oomRun,
  workerCrash,
  loadAbandoned,
})

describe('device health at the edge', { timeout: 60_000 }, () => {
  it('merges health counts of many devices exactly into the fleet view, per version and per backend slice', async () => {
    const version = await publishVersion(model, 3)
    const rand = seededRandom(1503)
    const start = minute() - 2 * MIN
    const expected = health(0, 0, 0, 0, 0)
    const perBackend: Record<string, number> = { webgpu: 0, wasm: 0 }
    let loads = 0
    for (let d = 0; d < 10; d++) {
      const h = health(d % 2, d % 3 === 0 ? 1 : 0, d % 4 === 1 ? 2 : 0, d === 5 ? 1 : 0, d % 3 === 2 ? 1 : 0)
      const backend = d < 5 ? 'webgpu' : 'wasm'
      const report = {
        ...armReport(rand, { model, rollout: 'x', arm: 'baseline', version, start, loads: 2, health: h }),
        backend,
      } as const
      const { rollout: _r, ...plain } = report
      const res = await postBatch(makeBatch(`dev_health_${d}`, [plain]), key)
      expect(res.status, await res.clone().text()).toBe(202)
      for (const k of Object.keys(expected) as (keyof typeof expected)[]) expected[k] += h[k]
      perBackend[backend] += h.deviceLost + h.oomLoad + h.oomRun + h.workerCrash + h.loadAbandoned
      loads += 2
    }
    const view = FleetView.parse(
      await bodyOf(await api('GET', `/v1/models/${model}/telemetry?minDevices=1&slice=backend&from=${start}`)),
    )
    const total = view.cohorts.find((c) => c.version === version)!.total
    if (total.suppressed) throw new Error('suppressed')
    const crashes = Object.values(expected).reduce((a, b) => a + b, 0)
    const sessions = loads + expected.loadAbandoned
    expect(total.health).toEqual({ ...expected, crashes, sessions, crashRate: crashes / sessions })
    const slices = view.slices!.cohorts.find((c) => c.version === version)!.slices
    for (const backend of ['webgpu', 'wasm']) {
      const s = slices[backend]
      if (s.suppressed) throw new Error('suppressed slice')
      expect(s.health?.crashes).toBe(perBackend[backend])
    }
  })

  it('refuses a report with a health count beyond its window; nothing of it is counted', async () => {
    const version = await publishVersion(model, 4)
    const report = armReport(seededRandom(2), {
      model,
      rollout: 'x',
      arm: 'baseline',
      version,
      start: minute() - MIN,
      health: health(0, 0, 601, 0, 0),
    })
    const { rollout: _r, ...plain } = report
    const res = await postBatch(makeBatch('dev_health_bad', [plain]), key)
    expect(res.status).toBe(400)
    const body = await bodyOf(res)
    expect(body.error.code).toBe('validation_failed')
    const view = FleetView.parse(await bodyOf(await api('GET', `/v1/models/${model}/telemetry?minDevices=1`)))
    expect(view.cohorts).toEqual([])
  })

  it('rolls back a candidate whose crash rate exceeds the baseline by more than maxDiff, with both rates in the evidence', async () => {
    const baseline = await publishVersion(model, 5)
    await api('PUT', `/v1/models/${model}/aliases/production`, { body: { version: baseline } })
    const candidate = await publishVersion(model, 6)
    const r = await startCanary(model, {
      candidate,
      guardrails: [{ metric: 'crash_rate', maxDiff: 0.05, minSessions: 20 }],
    })
    const start = Math.floor(r.stepStartedAt / MIN) * MIN
    const rand = seededRandom(15)
    const common = { model, rollout: r.id, start, inferences: 20, loads: 4 }
    // Candidate: 6 devices × 4 loads, each device's worker crashed once and one OOM at load: 12 / 24.
    await sendReports(key, devicesIn(r.id, 20, 'candidate', 6, 'h'), rand, {
      ...common,
      arm: 'candidate',
      version: candidate,
      health: health(0, 1, 0, 1, 0),
    })
    // Baseline: 6 devices × 4 loads, no event but on one device a lost WebGPU device: 1 / 24.
    const base = devicesIn(r.id, 20, 'baseline', 6, 'h')
    await sendReports(key, base.slice(0, 1), rand, {
      ...common,
      arm: 'baseline',
      version: baseline,
      health: health(1, 0, 0, 0, 0),
    })
    await sendReports(key, base.slice(1), rand, { ...common, arm: 'baseline', version: baseline })
    await alarmAt(model, r.stepStartedAt + 30_000)
    const now = RolloutView.parse(await bodyOf(await api('GET', `/v1/models/${model}/rollouts/current`)))
    expect(now).toMatchObject({ status: 'rolled_back', percent: 0, reason: 'guardrail:crash_rate' })
    const g = (now.lastDecision!.evidence.guardrails as any[])[0]
    expect(g).toMatchObject({
      metric: 'crash_rate',
      status: 'breach',
      limit: 0.05,
      stats: { baselineSessions: 24, baselineCrashes: 1, candidateSessions: 24, candidateCrashes: 12 },
    })
    expect(g.value).toBeCloseTo(12 / 24 - 1 / 24, 12)
    const [event] = await eventsOf(model, 'rollout.rolled_back')
    expect(event).toMatchObject({ details: { reason: 'guardrail:crash_rate' } })
  })

  it('refuses a malformed crash_rate guardrail', async () => {
    const baseline = await publishVersion(model, 7)
    await api('PUT', `/v1/models/${model}/aliases/production`, { body: { version: baseline } })
    const candidate = await publishVersion(model, 8)
    await expectGuardrailsRefused(model, candidate, [
      [{ metric: 'crash_rate' }, '/guardrails/0/maxDiff'],
      [{ metric: 'crash_rate', maxDiff: 1 }, '/guardrails/0/maxDiff'],
      [{ metric: 'crash_rate', maxDiff: 0.05, minSessions: 0 }, '/guardrails/0/minSessions'],
    ])
  })
})
