import { env, runDurableObjectAlarm } from 'cloudflare:test'
import { beforeEach, describe, expect, it } from 'vitest'
import { Assignment } from '../../core/formats/assignment.ts'
import { CohortsView } from '../../core/formats/cohort.ts'
import { RolloutView } from '../../core/formats/rollout.ts'
import { armOf } from '../../core/rollout/assign.ts'
import { api, bodyOf, resetState, snapshot } from './api.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { alarmAt, control, devicesIn, eventsOf, MIN, publishVersion, sendReports } from './rollout-fixtures.ts'
import { appKey, setupModel } from './telemetry-fixtures.ts'

let key: string
let model: string
let candidate: number

/** The seed's stores: store-0000 … store-4999. */
const STORES = Array.from({ length: 5_000 }, (_, i) => `store-${String(i).padStart(4, '0')}`)

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = await setupModel('cohort')
  candidate = await publishVersion(model, 1)
})

async function assign(device: string, cohort?: string, headers: Record<string, string> = {}): Promise<Response> {
  const q = cohort === undefined ? '' : `&cohort=${encodeURIComponent(cohort)}`
  return api('GET', `/v1/assign/${model}?device=${device}&caps=webgpu:0${q}`, {
    token: null,
    headers: { 'X-Edgefleet-Key': key, ...headers },
  })
}

async function assigned(device: string, cohort?: string): Promise<Assignment> {
  const res = await assign(device, cohort)
  expect(res.status, await res.clone().text()).toBe(200)
  return Assignment.parse(await bodyOf(res))
}

async function setCohorts(values: string[], name = 'store'): Promise<Response> {
  return api('PUT', `/v1/models/${model}/cohorts`, { body: { name, values } })
}

const devices = Array.from({ length: 16 }, (_, i) => `dev_cohort_${String(i).padStart(4, '0')}`)

describe('the cohort allow-list', () => {
  it("takes the seed's 5,000 stores, reads them back, and records an audit event", async () => {
    const res = await setCohorts(STORES)
    expect(res.status, await res.clone().text()).toBe(200)
    const view = CohortsView.parse(await bodyOf(res))
    expect(view).toMatchObject({ model, name: 'store', pins: [], updatedBy: 'admin' })
    expect(view.values).toEqual(STORES)
    expect(CohortsView.parse(await bodyOf(await api('GET', `/v1/models/${model}/cohorts`))).values).toHaveLength(5_000)
    const [event] = await eventsOf(model, 'cohorts.updated')
    expect(event.details).toEqual({ name: 'store', labels: 5_000, added: 5_000, removed: 0 })
  })

  it('refuses bad lists with a pointer and changes nothing', async () => {
    await setCohorts(['store-0001'])
    const before = await snapshot()
    const cases: [unknown, string][] = [
      [{ name: 'store', values: ['ok', 'free text!'] }, '/values/1'],
      [{ name: 'store', values: ['a'.repeat(65)] }, '/values/0'],
      [{ name: 'store', values: ['a', 'a'] }, '/values'],
      [{ name: 'store', values: Array.from({ length: 10_001 }, (_, i) => `s${i}`) }, '/values'],
      [{ name: 'Bad Name', values: [] }, '/name'],
      [{ values: ['a'] }, '/name'],
      [{ name: 'store', values: ['a'], extra: 1 }, ''],
    ]
    for (const [body, pointer] of cases) {
      const res = await api('PUT', `/v1/models/${model}/cohorts`, { body })
      expect(res.status).toBe(400)
      const { error } = await bodyOf(res)
      expect(error.code).toBe('validation_failed')
      expect(error.pointer).toBe(pointer)
    }
    expect((await api('PUT', '/v1/models/nope/cohorts', { body: { name: 'store', values: [] } })).status).toBe(404)
    expect((await api('DELETE', `/v1/models/${model}/cohorts/store-0002/pin`)).status).toBe(404)
    expect(await snapshot()).toBe(before)
  })
})

describe('assignment with a cohort', () => {
  it('ignores labels outside the allow-list (never an error) and keys the ETag by the accepted cohort', async () => {
    await setCohorts(['store-0001', 'store-0002'])
    const d = devices[0]
    const none = await assign(d)
    const unknown = await assign(d, 'store-9999')
    const junk = await assign(d, "x' OR 1=1 --\u202e")
    const one = await assign(d, 'store-0001')
    const two = await assign(d, 'store-0002')
    for (const r of [none, unknown, junk, one, two]) expect(r.status).toBe(200)
    const bodies = await Promise.all([none, unknown, junk, one, two].map((r) => r.text()))
    // Same version for all: no pin, no rollout.
    expect(new Set(bodies).size).toBe(1)
    const tags = [none, unknown, junk, one, two].map((r) => r.headers.get('ETag'))
    // An unknown label is no cohort: the same ETag as sending none; each accepted cohort has its own.
    expect(tags[1]).toBe(tags[0])
    expect(tags[2]).toBe(tags[0])
    expect(new Set([tags[0], tags[3], tags[4]]).size).toBe(3)
    expect((await assign(d, 'store-0001', { 'If-None-Match': tags[3]! })).status).toBe(304)
    expect((await assign(d, 'store-0002', { 'If-None-Match': tags[3]! })).status).toBe(200)
    expect((await assign(d, undefined, { 'If-None-Match': tags[3]! })).status).toBe(200)
    // Nothing the device sent was stored.
    expect(JSON.stringify((await env.DB.prepare('SELECT * FROM events').all()).results)).not.toContain('store-9999')
  })

  it('a model without an allow-list ignores every cohort', async () => {
    const a = await assign(devices[0])
    const b = await assign(devices[0], 'store-0001')
    expect(b.headers.get('ETag')).toBe(a.headers.get('ETag'))
  })
})

describe('pins', () => {
  it('hold a cohort on a version whatever production moves to, with audit events, until unpinned', async () => {
    await setCohorts(['store-0001', 'store-0002'])
    const pin = await api('PUT', `/v1/models/${model}/cohorts/store-0001/pin`, { body: { version: candidate } })
    expect(pin.status, await pin.clone().text()).toBe(200)
    expect(await bodyOf(pin)).toEqual({ model, cohort: 'store-0001', version: candidate, previous: null })
    expect((await assigned(devices[0], 'store-0001')).version).toBe(candidate)
    expect((await assigned(devices[0], 'store-0002')).version).toBe(1)
    expect((await assigned(devices[0])).version).toBe(1)
    // Production moves on; the pinned cohort stays.
    const v3 = await publishVersion(model, 3)
    await api('PUT', `/v1/models/${model}/aliases/production`, { body: { version: v3 } })
    expect((await assigned(devices[1], 'store-0001')).version).toBe(candidate)
    expect((await assigned(devices[1], 'store-0002')).version).toBe(v3)
    const view = CohortsView.parse(await bodyOf(await api('GET', `/v1/models/${model}/cohorts`)))
    expect(view.pins).toMatchObject([{ cohort: 'store-0001', version: candidate, pinnedBy: 'admin' }])
    // A pinned version cannot be deprecated, nor can its cohort leave the allow-list.
    const dep = await api('PATCH', `/v1/models/${model}/versions/${candidate}`, { body: { deprecated: true } })
    expect(dep.status).toBe(409)
    expect((await bodyOf(dep)).error.message).toContain('pinned for cohort store-0001')
    const drop = await setCohorts(['store-0002'])
    expect(drop.status).toBe(409)
    expect((await bodyOf(drop)).error).toMatchObject({ code: 'conflict', pointer: '/values' })
    expect(CohortsView.parse(await bodyOf(await api('GET', `/v1/models/${model}/cohorts`))).values).toHaveLength(2)
    // Unpinning returns the cohort to production; unpinning again changes nothing.
    const unpin = await api('DELETE', `/v1/models/${model}/cohorts/store-0001/pin`)
    expect(await bodyOf(unpin)).toEqual({ model, cohort: 'store-0001', version: null, previous: candidate })
    expect((await assigned(devices[2], 'store-0001')).version).toBe(v3)
    expect((await bodyOf(await api('DELETE', `/v1/models/${model}/cohorts/store-0001/pin`))).previous).toBeNull()
    expect((await eventsOf(model, 'cohort.pinned')).map((e) => e.details)).toEqual([
      { cohort: 'store-0001', to: candidate, from: null },
    ])
    expect((await eventsOf(model, 'cohort.unpinned')).map((e) => e.details)).toEqual([
      { cohort: 'store-0001', from: candidate },
    ])
  })

  it('refuses an unknown cohort, an unknown or deprecated version, and changes nothing', async () => {
    await setCohorts(['store-0001'])
    const old = await publishVersion(model, 4)
    await api('PATCH', `/v1/models/${model}/versions/${old}`, { body: { deprecated: true } })
    const before = await snapshot()
    const cases: [string, unknown, number, string][] = [
      ['store-0002', { version: candidate }, 404, 'not_found'],
      ['store-0001', { version: 99 }, 404, 'not_found'],
      ['store-0001', { version: old }, 409, 'deprecated'],
      ['store-0001', { version: '2' }, 400, 'validation_failed'],
      ['bad label!', { version: candidate }, 400, 'validation_failed'],
    ]
    for (const [cohort, body, status, code] of cases) {
      const res = await api('PUT', `/v1/models/${model}/cohorts/${encodeURIComponent(cohort)}/pin`, { body })
      expect(res.status, cohort).toBe(status)
      expect((await bodyOf(res)).error.code).toBe(code)
    }
    expect(await snapshot()).toBe(before)
  })
})

describe('rollouts targeted at cohorts', () => {
  async function start(targeting: Record<string, unknown>): Promise<Response> {
    return api('POST', `/v1/models/${model}/rollouts`, {
      body: { candidate, mode: 'canary', steps: [{ percent: 50, minDevices: 5 }], targeting },
    })
  }

  it('reach only devices of the listed cohorts; everyone else is assigned exactly as before', async () => {
    await setCohorts(['store-0001', 'store-0002', 'store-0003'])
    const res = await start({ cohorts: ['store-0001', 'store-0002'] })
    expect(res.status, await res.clone().text()).toBe(201)
    const r = RolloutView.parse(await bodyOf(res))
    for (const d of devices) {
      for (const cohort of ['store-0001', 'store-0002']) {
        const a = await assigned(d, cohort)
        const arm = armOf({ id: r.id, percent: 50 }, d, { webgpu: false })
        expect(a.rollout).toEqual({ id: r.id, arm, mode: 'canary' })
        expect(a.version).toBe(arm === 'candidate' ? candidate : 1)
      }
      for (const cohort of [undefined, 'store-0003', 'store-9999']) {
        const a = await assigned(d, cohort)
        expect(a.rollout).toBeUndefined()
        expect(a.version).toBe(1)
      }
    }
    // Both arms were reached.
    const arms = new Set(devices.map((d) => armOf({ id: r.id, percent: 50 }, d, { webgpu: false })))
    expect(arms).toEqual(new Set(['candidate', 'baseline']))
  }, 60_000)

  it('promote pins the targeted cohorts to the candidate and leaves production alone; a pin outranks the rollout', async () => {
    await setCohorts(['store-0001', 'store-0002'])
    const r = RolloutView.parse(await bodyOf(await start({ cohorts: ['store-0001'] })))
    // Pinning a targeted cohort mid-rollout takes it out of the rollout at once.
    await api('PUT', `/v1/models/${model}/cohorts/store-0001/pin`, { body: { version: 1 } })
    for (const d of devices.slice(0, 10)) {
      const a = await assigned(d, 'store-0001')
      expect(a.rollout).toBeUndefined()
      expect(a.version).toBe(1)
    }
    await api('DELETE', `/v1/models/${model}/cohorts/store-0001/pin`)
    const promoted = await api('POST', `/v1/models/${model}/rollouts/${r.id}/promote`, { body: {} })
    expect(promoted.status, await promoted.clone().text()).toBe(200)
    // The outbox applies the pin on ModelControl's alarm: run it now (a no-op when it already ran).
    await runDurableObjectAlarm(control(model))
    for (let i = 0; i < 50 && (await eventsOf(model, 'cohort.pinned')).length < 2; i++)
      await new Promise((ok) => setTimeout(ok, 20))
    const pins = CohortsView.parse(await bodyOf(await api('GET', `/v1/models/${model}/cohorts`))).pins
    expect(pins).toMatchObject([{ cohort: 'store-0001', version: candidate }])
    const model_ = await bodyOf(await api('GET', `/v1/models/${model}`))
    expect(model_.aliases.production).toBe(1)
    expect((await eventsOf(model, 'cohort.pinned')).at(-1).details).toEqual({
      cohort: 'store-0001',
      to: candidate,
      rollout: r.id,
      from: null,
    })
    expect((await eventsOf(model, 'alias.moved')).filter((e) => e.details.rollout === r.id)).toEqual([])
  })

  it('are judged like any rollout: a guardrail breach among the cohort devices rolls back, and the cohort returns to production', async () => {
    await setCohorts(['store-0001', 'store-0002'])
    const res = await api('POST', `/v1/models/${model}/rollouts`, {
      body: {
        candidate,
        mode: 'canary',
        steps: [{ percent: 20, minDevices: 5 }],
        guardrails: [{ metric: 'latency_p95', maxRatio: 1.2 }],
        targeting: { cohorts: ['store-0001'] },
        evaluationSeconds: 30,
        ttlSeconds: 5,
      },
    })
    expect(res.status, await res.clone().text()).toBe(201)
    const r = RolloutView.parse(await bodyOf(res))
    const inCandidate = devicesIn(r.id, 20, 'candidate', 6, 'c')
    const inBaseline = devicesIn(r.id, 20, 'baseline', 6, 'c')
    // The edge puts these store-0001 devices in the arms their reports claim, and nobody else in any.
    for (const d of inCandidate) expect((await assigned(d, 'store-0001')).rollout?.arm).toBe('candidate')
    for (const d of inBaseline) expect((await assigned(d, 'store-0001')).rollout?.arm).toBe('baseline')
    expect((await assigned(inCandidate[0], 'store-0002')).rollout).toBeUndefined()
    const minute = Math.floor(Date.now() / MIN) * MIN
    const rand = seededRandom(12)
    const common = { model, rollout: r.id, start: minute }
    await sendReports(key, inCandidate, rand, { ...common, arm: 'candidate', version: candidate, latencyMs: 12 })
    await sendReports(key, inBaseline, rand, { ...common, arm: 'baseline', version: 1, latencyMs: 4 })
    await alarmAt(model, r.stepStartedAt + 30_000)
    const after = RolloutView.parse(await bodyOf(await api('GET', `/v1/models/${model}/rollouts/current`)))
    expect(after).toMatchObject({ status: 'rolled_back', reason: 'guardrail:latency_p95' })
    for (const d of inCandidate.slice(0, 3)) {
      const a = await assigned(d, 'store-0001')
      expect(a.version).toBe(1)
      expect(a.rollout).toBeUndefined()
    }
    // A rollback pins nothing and moves nothing.
    expect(CohortsView.parse(await bodyOf(await api('GET', `/v1/models/${model}/cohorts`))).pins).toEqual([])
    expect((await bodyOf(await api('GET', `/v1/models/${model}`))).aliases.production).toBe(1)
  }, 60_000)

  it('refuse cohorts outside the allow-list or pinned, with a pointer, and store nothing', async () => {
    await setCohorts(['store-0001', 'store-0002'])
    await api('PUT', `/v1/models/${model}/cohorts/store-0002/pin`, { body: { version: 1 } })
    const before = await snapshot()
    const unknown = await start({ cohorts: ['store-0001', 'store-0042'] })
    expect(unknown.status).toBe(400)
    expect((await bodyOf(unknown)).error).toMatchObject({
      code: 'validation_failed',
      pointer: '/targeting/cohorts/1',
    })
    const pinned = await start({ cohorts: ['store-0001', 'store-0002'] })
    expect(pinned.status).toBe(409)
    expect((await bodyOf(pinned)).error).toMatchObject({ code: 'conflict', pointer: '/targeting/cohorts/1' })
    const malformed = await start({ cohorts: ['store 1'] })
    expect(malformed.status).toBe(400)
    expect((await bodyOf(malformed)).error.pointer).toBe('/targeting/cohorts/0')
    expect(await snapshot()).toBe(before)
    expect((await api('GET', `/v1/models/${model}/rollouts/current`)).status).toBe(404)
  })
})
