// Retraining runs at the edge: recording, reading and paging them, the events they record, the
// checks that keep a run's story consistent, and a trigger event publishing at most once.
import { env } from 'cloudflare:test'
import { beforeEach, describe, expect, it } from 'vitest'
import type { Run } from '../../core/formats/run.ts'
import { insertRun, isUniqueViolation } from '../../edge/db/runs.ts'
import { api, bodyOf, createModel, resetState, snapshot, upload } from './api.ts'
import { runId, sampleRun } from './run-fixtures.ts'

const TRIGGER = 'evt_0123456789abcdef0123'

beforeEach(async () => {
  await resetState()
  await createModel('weather')
})

async function events(type: string): Promise<any[]> {
  return (await bodyOf(await api('GET', `/v1/events?model=weather&type=${type}`))).events
}

async function publish(lineage: Record<string, unknown>): Promise<Response> {
  const file = await upload('model.onnx', new Uint8Array([8, 1, 2, 3]))
  return api('POST', '/v1/models/weather/versions', { body: { files: [file], lineage } })
}

describe('POST /v1/models/:model/runs', () => {
  it('records a completed run, reads it back and lists it, and records retrain.completed with its id', async () => {
    const run = sampleRun()
    const res = await api('POST', '/v1/models/weather/runs', { body: run })
    expect(res.status).toBe(201)
    const stored = await bodyOf(res)
    expect(stored).toMatchObject({ ...run, model: 'weather', createdBy: 'admin', version: null, error: null })
    expect(await bodyOf(await api('GET', `/v1/models/weather/runs/${run.id}`))).toEqual(stored)
    const page = await bodyOf(await api('GET', '/v1/models/weather/runs'))
    expect(page).toEqual({ runs: [stored], next: null })
    const [event] = await events('retrain.completed')
    expect(event.details).toMatchObject({ runId: run.id, trigger: 'manual', version: null, accuracy: 0.82 })
  })

  it('records a rejected run with retrain.rejected naming the failed gate', async () => {
    const gate = { gate: 'accuracy:min', value: 0.41, limit: 0.6, passed: false, message: 'accuracy:min 0.410 < 0.600' }
    const run = sampleRun({ status: 'rejected', trigger: TRIGGER, gates: [gate] })
    expect((await api('POST', '/v1/models/weather/runs', { body: run })).status).toBe(201)
    const [event] = await events('retrain.rejected')
    expect(event.details).toEqual({
      runId: run.id,
      trigger: TRIGGER,
      version: null,
      accuracy: 0.82,
      gates: ['accuracy:min 0.410 < 0.600'],
    })
  })

  it('answers the stored run when the same id is recorded again, with one event', async () => {
    const run = sampleRun()
    expect((await api('POST', '/v1/models/weather/runs', { body: run })).status).toBe(201)
    const again = await api('POST', '/v1/models/weather/runs', { body: { ...run, finishedAt: run.finishedAt + 5 } })
    expect(again.status).toBe(200)
    expect((await bodyOf(again)).finishedAt).toBe(run.finishedAt)
    expect(await events('retrain.*')).toHaveLength(1)
  })

  it.each([
    ['a completed run with a failed gate', { gates: [{ ...sampleRun().gates[0], passed: false }] }, '/status'],
    ['a rejected run with every gate passed', { status: 'rejected' }, '/status'],
    ['a failed run without an error', { status: 'failed', metrics: null }, '/error'],
    ['a rejected run with a version', { status: 'rejected', gates: [], version: 1 }, '/status'],
    ['a rollout without a version', { rollout: 'ro_1' }, '/rollout'],
    ['finished before it started', { finishedAt: 1 }, '/finishedAt'],
    ['a bad trigger', { trigger: 'webhook' }, '/trigger'],
    ['a bad id', { id: 'run_1' }, '/id'],
    ['an accuracy above 1', { metrics: { ...sampleRun().metrics, accuracy: 1.2 } }, '/metrics/accuracy'],
    ['an unknown family', { params: { ...sampleRun().params, family: 'xgboost' } }, '/params/family'],
  ])('refuses %s with validation_failed and changes nothing', async (_, overrides, pointer) => {
    const before = await snapshot()
    const res = await api('POST', '/v1/models/weather/runs', { body: sampleRun(overrides) })
    expect(res.status).toBe(400)
    expect((await bodyOf(res)).error).toMatchObject({ code: 'validation_failed', pointer })
    expect(await snapshot()).toBe(before)
  })

  it('is 404 for a model that does not exist, on every route', async () => {
    expect((await api('POST', '/v1/models/nope/runs', { body: sampleRun() })).status).toBe(404)
    expect((await api('GET', '/v1/models/nope/runs')).status).toBe(404)
    const missing = await api('GET', `/v1/models/weather/runs/${runId()}`)
    expect(missing.status).toBe(404)
    expect((await bodyOf(missing)).error.message).toMatch(/has no run run_/)
  })

  it('links a run to the version whose lineage names it, and refuses a version published by another run', async () => {
    const run = sampleRun({ trigger: TRIGGER })
    const v = await bodyOf(
      await publish({ runId: run.id, triggerEvent: TRIGGER, dataHash: 'sha256:' + 'a'.repeat(64) }),
    )
    expect(v.lineage).toMatchObject({ runId: run.id, triggerEvent: TRIGGER })
    const other = await api('POST', '/v1/models/weather/runs', { body: sampleRun({ version: v.version }) })
    expect(other.status).toBe(400)
    expect((await bodyOf(other)).error).toMatchObject({ code: 'validation_failed', pointer: '/version' })
    const res = await api('POST', '/v1/models/weather/runs', { body: { ...run, version: v.version } })
    expect(res.status).toBe(201)
    const detail = await bodyOf(await api('GET', '/v1/models/weather'))
    expect(detail.versions[0]).toMatchObject({ version: 1, runId: run.id, triggerEvent: TRIGGER })
    const [event] = await events('retrain.completed')
    expect(event.details).toMatchObject({ runId: run.id, version: 1, trigger: TRIGGER })
  })
})

describe('a trigger event publishes once', () => {
  it('refuses a second version with the same triggerEvent, and a second completed run of it', async () => {
    expect((await publish({ triggerEvent: TRIGGER })).status).toBe(201)
    const before = await snapshot()
    const again = await publish({ triggerEvent: TRIGGER })
    expect(again.status).toBe(409)
    const { error } = await bodyOf(again)
    expect(error).toMatchObject({ code: 'conflict', pointer: '/lineage/triggerEvent' })
    expect(error.message).toContain('already published v1')
    expect(await snapshot()).toBe(before)

    const first = sampleRun({ trigger: TRIGGER })
    expect((await api('POST', '/v1/models/weather/runs', { body: first })).status).toBe(201)
    const second = await api('POST', '/v1/models/weather/runs', { body: sampleRun({ trigger: TRIGGER }) })
    expect(second.status).toBe(409)
    expect((await bodyOf(second)).error.message).toContain(first.id)
    // A rejected run of the same event is still recorded: what was tried stays visible.
    const gate = { gate: 'accuracy:min', value: 0.1, limit: 0.6, passed: false, message: 'accuracy:min 0.100 < 0.600' }
    const rejected = sampleRun({ trigger: TRIGGER, status: 'rejected', gates: [gate] })
    expect((await api('POST', '/v1/models/weather/runs', { body: rejected })).status).toBe(201)
  })
})

describe('a trigger event completes once, atomically', () => {
  it('lets exactly one of concurrent completed runs of one trigger in, with one event', async () => {
    const runs = Array.from({ length: 4 }, () => sampleRun({ trigger: TRIGGER }))
    const answers = await Promise.all(runs.map((body) => api('POST', '/v1/models/weather/runs', { body })))
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409, 409, 409])
    const stored = await bodyOf(await api('GET', `/v1/models/weather/runs?trigger=${TRIGGER}`))
    expect(stored.runs).toHaveLength(1)
    expect(await events('retrain.completed')).toHaveLength(1)
  })

  it('is enforced by the database: a second completed insert of one trigger fails and writes nothing', async () => {
    const db = env.DB
    const first = {
      version: null,
      error: null,
      ...sampleRun({ trigger: TRIGGER }),
      model: 'weather',
      createdAt: 1,
      createdBy: 'admin',
    } as Run
    await insertRun(db, first).run()
    const second = { ...first, id: runId() }
    const error = await insertRun(db, second)
      .run()
      .then(
        () => null,
        (err: unknown) => err,
      )
    expect(isUniqueViolation(error)).toBe(true)
    // Manual runs and rejected runs of the same trigger are not limited.
    await insertRun(db, { ...first, id: runId(), status: 'rejected' }).run()
    await insertRun(db, { ...first, id: runId(), trigger: 'manual' }).run()
    await insertRun(db, { ...first, id: runId(), trigger: 'manual' }).run()
    const { n } = (await db
      .prepare("SELECT count(*) AS n FROM runs WHERE status = 'completed'")
      .first<{ n: number }>())!
    expect(n).toBe(3)
  })
})

describe('GET /v1/models/:model/runs', () => {
  it('pages newest first and filters by status and trigger', async () => {
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const run = sampleRun(i === 2 ? { trigger: TRIGGER } : {})
      ids.push(run.id)
      await api('POST', '/v1/models/weather/runs', { body: run })
    }
    const first = await bodyOf(await api('GET', '/v1/models/weather/runs?limit=2'))
    expect(first.runs.map((r: any) => r.id)).toEqual([ids[4], ids[3]])
    const second = await bodyOf(await api('GET', `/v1/models/weather/runs?limit=2&before=${first.next}`))
    expect(second.runs.map((r: any) => r.id)).toEqual([ids[2], ids[1]])
    const third = await bodyOf(await api('GET', `/v1/models/weather/runs?limit=2&before=${second.next}`))
    expect(third).toMatchObject({ runs: [{ id: ids[0] }], next: null })
    const byTrigger = await bodyOf(await api('GET', `/v1/models/weather/runs?trigger=${TRIGGER}`))
    expect(byTrigger.runs.map((r: any) => r.id)).toEqual([ids[2]])
    expect((await bodyOf(await api('GET', '/v1/models/weather/runs?status=rejected'))).runs).toEqual([])
    const bad = await api('GET', '/v1/models/weather/runs?status=running')
    expect(bad.status).toBe(400)
  })
})
