import {
  createExecutionContext,
  env,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { PolicyView } from '../../core/formats/policy.ts'
import { verifyWebhook } from '../../core/webhook/signature.ts'
import type { ModelControl } from '../../edge/control/model-control.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import worker from '../../edge/index.ts'
import { ADMIN, api, bodyOf, resetState, upload } from './api.ts'
import { appKey, makeBatch, makeReport, postBatch, PROFILE, setupModel } from './telemetry-fixtures.ts'

const MIN = 60_000
const SECRET = 'whsec_test_0123456789abcdef'
let key: string
let model: string
let hook: string

/** What the local webhook receiver saw. */
interface Received {
  signatureValid: boolean
  idempotencyKey: string | null
  body: any
}

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = await setupModel('policy')
  hook = `https://hooks.example.test/retrain/${model}`
})

afterEach(() => {
  vi.restoreAllMocks()
})

/**
 * A local webhook receiver at the network edge: outbound fetches to `hook` are answered here (the
 * Worker runs in the test's isolate), verifying the signature as a real receiver would.
 */
function receiver(answers: number[] = []): Received[] {
  const seen: Received[] = []
  const original = globalThis.fetch
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init)
    if (!req.url.startsWith(hook)) return original(input as RequestInfo, init)
    const raw = await req.text()
    seen.push({
      signatureValid: await verifyWebhook(SECRET, req.headers.get('X-Edgefleet-Signature'), raw, Date.now()),
      idempotencyKey: req.headers.get('Idempotency-Key'),
      body: JSON.parse(raw),
    })
    return new Response(null, { status: answers.shift() ?? 204 })
  })
  return seen
}

function control() {
  return env.MODEL_CONTROL.get(env.MODEL_CONTROL.idFromName(model))
}

/** Runs ModelControl's alarm with its clock at `at`. */
async function evaluateAt(at: number): Promise<void> {
  const stub = control()
  await runInDurableObject(stub, (c: ModelControl) => {
    c.now = () => at
  })
  await runDurableObjectAlarm(stub)
}

async function events(type: string): Promise<any[]> {
  const { results } = await env.DB.prepare('SELECT * FROM events WHERE model = ?1 AND type = ?2 ORDER BY seq')
    .bind(model, type)
    .all<any>()
  return results.map((r) => ({ ...r, details: JSON.parse(r.details) }))
}

async function waitFor<T>(probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Drifted reports (temp_max all in its top bin) from `devices` devices in the minute starting at `start`. */
async function sendDrifted(start: number, devices: number, tag: string): Promise<void> {
  const rand = seededRandom(start % 1000)
  for (let d = 0; d < devices; d++) {
    const res = await postBatch(
      makeBatch(`dev_${tag}_${d.toString().padStart(4, '0')}`, [
        makeReport(rand, { model, start, drift: true, inferences: 40 }),
      ]),
      key,
    )
    expect(res.status).toBe(202)
  }
}

/** Reports whose temp_max has `outOfRange` of 40 rows out of range, from `devices` devices in the minute starting at `start`. */
async function sendQuality(start: number, devices: number, outOfRange: number, tag: string): Promise<void> {
  const rand = seededRandom(start % 997)
  const quality = {
    temp_max: { rows: 40, missing: 0, nonFinite: 0, wrongType: 0, outOfRange, unknownCategory: 0 },
    weather: { rows: 40, missing: 1, nonFinite: 0, wrongType: 0, outOfRange: 0, unknownCategory: 0 },
  }
  for (let d = 0; d < devices; d++) {
    const report = { ...makeReport(rand, { model, start, inferences: 40 }), quality }
    const res = await postBatch(makeBatch(`dev_${tag}_${d.toString().padStart(4, '0')}`, [report]), key)
    expect(res.status).toBe(202)
  }
}

describe('PUT/GET /v1/models/:model/policy', { timeout: 30_000 }, () => {
  it('stores the policy (admin), fills defaults, never shows the secret, and audits the change', async () => {
    const put = await api('PUT', `/v1/models/${model}/policy`, {
      body: {
        when: { any: [{ anyFeatureDrifted: { consecutiveWindows: 2 } }, { accuracyBelow: { value: 0.8 } }] },
        webhook: { url: hook, secret: SECRET },
      },
    })
    expect(put.status).toBe(200)
    const view = PolicyView.parse(await bodyOf(put))
    expect(view).toMatchObject({
      model,
      revision: 1,
      cooldownMinutes: 1440,
      enabled: true,
      webhook: { url: hook, secret: '<redacted>' },
      updatedBy: 'admin',
    })
    expect(view.when).toEqual({
      any: [
        { anyFeatureDrifted: { consecutiveWindows: 2, minDevices: 50, windowMinutes: 60 } },
        { accuracyBelow: { value: 0.8, minLabeled: 100, windowMinutes: 1440, consecutiveWindows: 1 } },
      ],
    })
    expect(view.state.nextEvaluationAt).toBeGreaterThan(Date.now())

    const reader = (
      await bodyOf(await api('POST', '/v1/tokens', { body: { name: 'reader', scopes: ['telemetry:read'] } }))
    ).token
    const got = await api('GET', `/v1/models/${model}/policy`, { token: reader })
    expect(got.status).toBe(200)
    expect(await bodyOf(got)).toEqual(view)
    const updated = await events('policy.updated')
    expect(updated).toHaveLength(1)
    expect(updated[0].details).toMatchObject({ revision: 1, webhook: { url: hook } })
    const everything = JSON.stringify((await env.DB.prepare('SELECT * FROM events').all()).results)
    expect(everything).not.toContain(SECRET)
  })

  it('refuses bad policies with a pointer, unknown models, and callers without admin', async () => {
    const bad = await api('PUT', `/v1/models/${model}/policy`, {
      body: { when: { anyFeatureDrifted: { windowMinutes: 7 } } },
    })
    expect(bad.status).toBe(400)
    expect((await bodyOf(bad)).error).toMatchObject({
      code: 'validation_failed',
      pointer: '/when/anyFeatureDrifted/windowMinutes',
    })
    for (const [when, pointer] of [
      [{ qualityRateAbove: { value: 1 } }, '/when/qualityRateAbove/value'],
      [{ qualityRateAbove: { value: 0.1, minRows: 0 } }, '/when/qualityRateAbove/minRows'],
      [{ qualityRateAbove: { value: 0.1, names: [] } }, '/when/qualityRateAbove/names'],
      [{ estimatedAccuracyBelow: { value: 0 } }, '/when/estimatedAccuracyBelow/value'],
      [{ estimatedAccuracyBelow: { value: 0.7, minPredictions: 0 } }, '/when/estimatedAccuracyBelow/minPredictions'],
      [{ estimatedAccuracyBelow: { value: 0.7, windowMinutes: 7 } }, '/when/estimatedAccuracyBelow/windowMinutes'],
    ] as const) {
      const refused = await api('PUT', `/v1/models/${model}/policy`, { body: { when } })
      expect(refused.status, JSON.stringify(when)).toBe(400)
      expect((await bodyOf(refused)).error).toMatchObject({ code: 'validation_failed', pointer })
    }
    expect(
      (await api('PUT', '/v1/models/no-such-model/policy', { body: { when: { anyFeatureDrifted: {} } } })).status,
    ).toBe(404)
    expect((await api('GET', `/v1/models/${model}/policy`)).status).toBe(404)
    const writer = (
      await bodyOf(
        await api('POST', '/v1/tokens', { body: { name: 'writer', scopes: ['registry:write', 'telemetry:read'] } }),
      )
    ).token
    const forbidden = await api('PUT', `/v1/models/${model}/policy`, {
      token: writer,
      body: { when: { anyFeatureDrifted: {} } },
    })
    expect(forbidden.status).toBe(403)
    expect((await api('GET', `/v1/models/${model}/policy`, { token: key })).status).toBe(403)
  })
})

describe('retraining triggers', { timeout: 60_000 }, () => {
  it('fires on fleet drift as windows close, records the evidence, delivers a signed webhook, and respects the cooldown', async () => {
    const seen = receiver()
    const W = 5 * MIN
    const b = Math.floor(Date.now() / W) * W
    // Three 5-minute windows with drifted data: A = [b−10, b−5), B = [b−5, b), C = [b, b+5).
    await sendDrifted(b - 8 * MIN, 6, 'a')
    await sendDrifted(b - 3 * MIN, 6, 'b')
    await sendDrifted(b + Math.min(Math.floor((Date.now() - b) / MIN), 4) * MIN, 6, 'c')
    // The policy is set "before" window A closed (the clock is injected), so evaluations follow the windows.
    await runInDurableObject(control(), (c: ModelControl) => {
      c.now = () => b - 10 * MIN + 1000
    })
    const put = await api('PUT', `/v1/models/${model}/policy`, {
      body: {
        when: { anyFeatureDrifted: { consecutiveWindows: 1, minDevices: 5, windowMinutes: 5 } },
        cooldownMinutes: 10,
        graceMinutes: 0,
        webhook: { url: hook, secret: SECRET },
      },
    })
    expect((await bodyOf(put)).state.nextEvaluationAt).toBe(b - 5 * MIN)

    await evaluateAt(b - 5 * MIN + 1000) // A closed: fires
    const [fired] = await events('retrain.requested')
    expect(fired).toMatchObject({ actor: 'policy', model })
    expect(fired.details).toMatchObject({
      version: 1,
      policyRevision: 1,
      reason: expect.stringContaining('temp_max drifted'),
    })
    const evidence = fired.details.conditions[0]
    expect(evidence).toMatchObject({ condition: 'anyFeatureDrifted', met: true, name: 'temp_max' })
    expect(evidence.windows).toHaveLength(1)
    expect(evidence.windows[0]).toMatchObject({ start: b - 10 * MIN, end: b - 5 * MIN, devices: 6, holds: true })
    expect(evidence.windows[0].value).toMatchObject({ drifted: true, reason: 'drifted' })
    expect(evidence.windows[0].value.chi2_p).toBeLessThan(0.01)

    // The Queue consumer delivers it, signed, with the event id as Idempotency-Key.
    const delivered = await waitFor(async () => (await events('webhook.delivered'))[0])
    expect(delivered.details).toMatchObject({ eventId: fired.id, status: 204, attempts: 1 })
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ signatureValid: true, idempotencyKey: fired.id })
    expect(seen[0].body).toMatchObject({ id: fired.id, type: 'retrain.requested', model, details: { version: 1 } })

    await evaluateAt(b + 1000) // B closed: still drifted, but within the 10-minute cooldown
    expect(await events('retrain.requested')).toHaveLength(1)
    const state = (await bodyOf(await api('GET', `/v1/models/${model}/policy`))).state
    expect(state).toMatchObject({
      lastResult: { met: true },
      lastFiredAt: b - 5 * MIN + 1000,
      lastEventId: fired.id,
      cooldownUntil: b + 5 * MIN + 1000,
    })

    await evaluateAt(b + 5 * MIN + 1000) // C closed, cooldown over: fires again
    expect(await events('retrain.requested')).toHaveLength(2)
    await waitFor(async () => ((await events('webhook.delivered')).length === 2 ? true : undefined))
    expect(seen.map((s) => s.signatureValid)).toEqual([true, true])
  })

  it("fires qualityRateAbove when the worst feature's problem rate exceeds the threshold, naming the feature", async () => {
    const W = 5 * MIN
    const b = Math.floor(Date.now() / W) * W
    // Window A = [b−10, b−5): 10 of 40 temp_max values out of range on each of 6 devices (rate 0.25).
    await sendQuality(b - 8 * MIN, 6, 10, 'qa')
    // Window B = [b−5, b): 2 of 40 (rate 0.05), below the threshold.
    await sendQuality(b - 3 * MIN, 6, 2, 'qb')
    await runInDurableObject(control(), (c: ModelControl) => {
      c.now = () => b - 10 * MIN + 1000
    })
    const put = await api('PUT', `/v1/models/${model}/policy`, {
      body: {
        when: { qualityRateAbove: { value: 0.1, minRows: 200, windowMinutes: 5 } },
        cooldownMinutes: 0,
        graceMinutes: 0,
      },
    })
    expect(put.status).toBe(200)
    expect((await bodyOf(put)).when).toEqual({
      qualityRateAbove: { value: 0.1, minRows: 200, windowMinutes: 5, consecutiveWindows: 1 },
    })

    await evaluateAt(b - 5 * MIN + 1000) // A closed: fires
    const [fired] = await events('retrain.requested')
    expect(fired.details).toMatchObject({ version: 1, reason: expect.stringContaining('worst: temp_max') })
    const evidence = fired.details.conditions[0]
    expect(evidence).toMatchObject({ condition: 'qualityRateAbove', met: true, name: 'temp_max' })
    expect(evidence.windows).toEqual([
      expect.objectContaining({ start: b - 10 * MIN, end: b - 5 * MIN, devices: 6, value: 0.25, holds: true }),
    ])

    await evaluateAt(b + 1000) // B closed: 0.05 is not above 0.1
    expect(await events('retrain.requested')).toHaveLength(1)
    const state = (await bodyOf(await api('GET', `/v1/models/${model}/policy`))).state
    expect(state.lastResult).toMatchObject({ met: false, reason: expect.stringContaining('not above 0.1') })
  })

  it("fires estimatedAccuracyBelow on the production version's calibrated confidences, without a single label", async () => {
    // Version 2 carries a calibration map (bins of accuracy 0.4 and 0.9) and becomes production.
    const calibration = { method: 'histogram-pav', label: 'weather', edges: [0.7], counts: [50, 50], correct: [20, 45] }
    const file = await upload('model.onnx', new Uint8Array([5, 4, 3, 2]))
    const published = await api('POST', `/v1/models/${model}/versions`, {
      body: { files: [file], profile: { ...PROFILE, calibration } },
    })
    expect(published.status).toBe(201)
    await api('PUT', `/v1/models/${model}/aliases/production`, { body: { version: 2 } })
    const W = 5 * MIN
    const b = Math.floor(Date.now() / W) * W
    const grid = (x: number) => Math.round(x * 2 ** 20) / 2 ** 20
    const send = async (start: number, p: number, tag: string) => {
      const rand = seededRandom(start % 991)
      for (let d = 0; d < 6; d++) {
        const calibrated = { count: 40, sum: 40 * grid(p), sumSq: 40 * grid(grid(p) * grid(p)) }
        const report = { ...makeReport(rand, { model, version: 2, start, inferences: 40 }), calibrated }
        const res = await postBatch(makeBatch(`dev_${tag}_${d.toString().padStart(4, '0')}`, [report]), key)
        expect(res.status).toBe(202)
      }
    }
    await send(b - 8 * MIN, 0.4, 'ea') // window A: estimated 0.4
    await send(b - 3 * MIN, 0.9, 'eb') // window B: estimated 0.9
    await runInDurableObject(control(), (c: ModelControl) => {
      c.now = () => b - 10 * MIN + 1000
    })
    const put = await api('PUT', `/v1/models/${model}/policy`, {
      body: {
        when: { estimatedAccuracyBelow: { value: 0.6, minPredictions: 200, windowMinutes: 5 } },
        cooldownMinutes: 0,
        graceMinutes: 0,
      },
    })
    expect(put.status).toBe(200)
    expect((await bodyOf(put)).when).toEqual({
      estimatedAccuracyBelow: { value: 0.6, minPredictions: 200, windowMinutes: 5, consecutiveWindows: 1 },
    })
    await evaluateAt(b - 5 * MIN + 1000) // A closed: 0.4 < 0.6 fires
    const [fired] = await events('retrain.requested')
    expect(fired.details).toMatchObject({ version: 2 })
    const evidence = fired.details.conditions[0]
    expect(evidence).toMatchObject({ condition: 'estimatedAccuracyBelow', met: true })
    expect(evidence.windows).toEqual([expect.objectContaining({ start: b - 10 * MIN, devices: 6, holds: true })])
    expect(evidence.windows[0].value).toBeCloseTo(0.4, 5)
    await evaluateAt(b + 1000) // B closed: 0.9 is not below 0.6
    expect(await events('retrain.requested')).toHaveLength(1)
    const state = (await bodyOf(await api('GET', `/v1/models/${model}/policy`))).state
    expect(state.lastResult).toMatchObject({ met: false, reason: expect.stringContaining('not below 0.6') })
  })

  it('does not fire on too few devices, nor when the data does not drift', async () => {
    const W = 5 * MIN
    const b = Math.floor(Date.now() / W) * W
    await sendDrifted(b - 3 * MIN, 4, 'few')
    await runInDurableObject(control(), (c: ModelControl) => {
      c.now = () => b - 5 * MIN + 1000
    })
    await api('PUT', `/v1/models/${model}/policy`, {
      body: {
        when: { anyFeatureDrifted: { consecutiveWindows: 1, minDevices: 5, windowMinutes: 5 } },
        graceMinutes: 0,
      },
    })
    await evaluateAt(b + 1000)
    expect(await events('retrain.requested')).toHaveLength(0)
    const state = (await bodyOf(await api('GET', `/v1/models/${model}/policy`))).state
    expect(state.lastResult).toMatchObject({ met: false, reason: expect.stringContaining('fewer than 5 devices') })
  })
})

describe('POST /v1/models/:model/policy/evaluate', { timeout: 60_000 }, () => {
  it('judges the closed windows now; closeOpenWindow judges the open one (development only) and fires once', async () => {
    const W = 5 * MIN
    const b = Math.floor(Date.now() / W) * W
    // Drifted data in the window still open at the injected clock [b, b+5).
    await sendDrifted(b + Math.min(Math.floor((Date.now() - b) / MIN), 4) * MIN, 6, 'now')
    await runInDurableObject(control(), (c: ModelControl) => {
      c.now = () => b + 4 * MIN
    })
    const policy = {
      when: { anyFeatureDrifted: { consecutiveWindows: 1, minDevices: 5, windowMinutes: 5 } },
      cooldownMinutes: 30,
      graceMinutes: 0,
    }
    expect((await api('POST', `/v1/models/${model}/policy/evaluate`, { body: {} })).status).toBe(404)
    await api('PUT', `/v1/models/${model}/policy`, { body: policy })

    // The closed window [b-5, b) holds nothing: judged, not met, nothing fired.
    const closed = await api('POST', `/v1/models/${model}/policy/evaluate`)
    expect(closed.status).toBe(200)
    const closedView = PolicyView.parse(await bodyOf(closed))
    expect(closedView.state).toMatchObject({
      lastEvaluatedAt: b + 4 * MIN,
      lastResult: { met: false, reason: expect.stringContaining('fewer than 5 devices') },
      lastEventId: null,
      nextEvaluationAt: b + 5 * MIN,
    })
    expect(await events('retrain.requested')).toHaveLength(0)

    // The open window judged as closed: temp_max drifted, fired with who asked and the window's end.
    const open = await api('POST', `/v1/models/${model}/policy/evaluate`, { body: { closeOpenWindow: true } })
    expect(open.status).toBe(200)
    const view = PolicyView.parse(await bodyOf(open))
    const [fired] = await events('retrain.requested')
    expect(view.state).toMatchObject({ lastResult: { met: true }, lastEventId: fired.id, lastFiredAt: b + 4 * MIN })
    expect(fired.actor).toBe('policy')
    const details = fired.details
    expect(details).toMatchObject({ requestedBy: 'admin', windowsClosedAt: b + 5 * MIN, evaluatedAt: b + 4 * MIN })
    expect(details.conditions[0].windows[0]).toMatchObject({ start: b, end: b + 5 * MIN, devices: 6, holds: true })

    // Again, and at the real close of the window: the cooldown holds, nothing fires twice.
    expect((await api('POST', `/v1/models/${model}/policy/evaluate`, { body: { closeOpenWindow: true } })).status).toBe(
      200,
    )
    await evaluateAt(b + 5 * MIN + 1000)
    expect(await events('retrain.requested')).toHaveLength(1)
  })

  it('refuses closeOpenWindow outside development, bad bodies, a disabled policy and non-admin tokens', async () => {
    await api('PUT', `/v1/models/${model}/policy`, { body: { when: { anyFeatureDrifted: {} } } })
    const call = async (environment: string, body: unknown) => {
      const ctx = createExecutionContext()
      const res = await worker.fetch(
        new Request(`http://edge.test/v1/models/${model}/policy/evaluate`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        }),
        { ...env, ENVIRONMENT: environment, EDGEFLEET_ADMIN_TOKEN: ADMIN },
        ctx,
      )
      await waitOnExecutionContext(ctx)
      return { status: res.status, body: (await res.json()) as any }
    }
    const prod = await call('production', { closeOpenWindow: true })
    expect(prod.status).toBe(403)
    expect(prod.body.error).toMatchObject({ code: 'forbidden', pointer: '/closeOpenWindow' })
    expect((await call('production', {})).status).toBe(200)
    expect(await events('retrain.requested')).toHaveLength(0)

    for (const body of [{ closeOpenWindow: 'yes' }, { closeOpenWindow: true, extra: 1 }, [1]]) {
      const res = await api('POST', `/v1/models/${model}/policy/evaluate`, { body })
      expect(res.status, JSON.stringify(body)).toBe(400)
    }
    // A body that is not JSON is refused, never read as "no body": nothing is evaluated.
    const evaluatedAt = (await bodyOf(await api('GET', `/v1/models/${model}/policy`))).state.lastEvaluatedAt
    for (const [type, raw] of [
      ['application/x-www-form-urlencoded', 'closeOpenWindow=true'],
      ['application/xml', '<closeOpenWindow>true</closeOpenWindow>'],
      ['application/json', '{"closeOpenWindow": tru'],
      ['', '{"closeOpenWindow": true}'],
    ]) {
      const res = await api('POST', `/v1/models/${model}/policy/evaluate`, { raw, headers: { 'Content-Type': type } })
      expect(res.status, type).toBeGreaterThanOrEqual(400)
      expect(res.status, type).toBeLessThan(500)
    }
    expect((await bodyOf(await api('GET', `/v1/models/${model}/policy`))).state.lastEvaluatedAt).toBe(evaluatedAt)
    const reader = (
      await bodyOf(await api('POST', '/v1/tokens', { body: { name: 'reader', scopes: ['telemetry:read'] } }))
    ).token
    expect((await api('POST', `/v1/models/${model}/policy/evaluate`, { token: reader })).status).toBe(403)
    await api('PUT', `/v1/models/${model}/policy`, { body: { when: { anyFeatureDrifted: {} }, enabled: false } })
    const disabled = await api('POST', `/v1/models/${model}/policy/evaluate`)
    expect(disabled.status).toBe(409)
    expect((await bodyOf(disabled)).error.code).toBe('conflict')
  })
})

describe('webhook delivery (the Queue consumer)', { timeout: 30_000 }, () => {
  /** A message batch of one retraining trigger, recording ack/retry as the Queue would. */
  function batchOf(eventId: string, attempts: number) {
    const outcome: { acked: boolean; retryDelay: number | null } = { acked: false, retryDelay: null }
    const message = {
      id: `msg_${attempts}`,
      timestamp: new Date(),
      body: { eventId, model },
      attempts,
      ack: () => void (outcome.acked = true),
      retry: (o?: { delaySeconds?: number }) => void (outcome.retryDelay = o?.delaySeconds ?? 0),
    }
    return {
      batch: {
        queue: 'edgefleet-retrain',
        messages: [message],
        ackAll() {},
        retryAll() {},
      } as unknown as MessageBatch<any>,
      outcome,
    }
  }

  async function firedEvent(): Promise<string> {
    await api('PUT', `/v1/models/${model}/policy`, {
      body: { when: { anyFeatureDrifted: {} }, webhook: { url: hook, secret: SECRET } },
    })
    const id = 'evt_test_' + crypto.randomUUID().slice(0, 8)
    await env.DB.prepare(
      "INSERT INTO events (id, type, model, actor, at, details) VALUES (?1, 'retrain.requested', ?2, 'policy', ?3, '{\"version\":1}')",
    )
      .bind(id, model, Date.now())
      .run()
    return id
  }

  it('retries 5xx and network errors with exponential backoff, then records webhook.failed after the last attempt', async () => {
    const { deliverRetrainBatch } = await import('../../edge/webhook/deliver.ts')
    const id = await firedEvent()
    const seen: number[] = []
    const deps = (status: number | 'network') => ({
      now: () => Date.now(),
      fetch: (async () => {
        seen.push(status === 'network' ? -1 : status)
        if (status === 'network') throw new TypeError('connection refused')
        return new Response(null, { status })
      }) as typeof fetch,
    })
    for (const [attempts, answer, delay] of [
      [1, 503, 10],
      [2, 'network', 20],
      [3, 429, 40],
      [7, 500, 640],
    ] as const) {
      const { batch, outcome } = batchOf(id, attempts)
      await deliverRetrainBatch(batch, env, deps(answer))
      expect(outcome).toEqual({ acked: false, retryDelay: delay })
    }
    expect(await events('webhook.failed')).toHaveLength(0)
    const last = batchOf(id, 8) // WEBHOOK_MAX_ATTEMPTS = 8
    await deliverRetrainBatch(last.batch, env, deps(503))
    expect(last.outcome).toEqual({ acked: true, retryDelay: null })
    const [failed] = await events('webhook.failed')
    expect(failed.details).toMatchObject({ eventId: id, attempts: 8, reason: expect.stringContaining('503') })
    expect(seen).toEqual([503, -1, 429, 500, 503])
  })

  it('gives up at once on a 4xx refusal, and records a success once however often it is redelivered', async () => {
    const { deliverRetrainBatch } = await import('../../edge/webhook/deliver.ts')
    const id = await firedEvent()
    const refused = batchOf(id, 1)
    await deliverRetrainBatch(refused.batch, env, {
      now: Date.now,
      fetch: (async () => new Response(null, { status: 410 })) as typeof fetch,
    })
    expect(refused.outcome.acked).toBe(true)
    expect((await events('webhook.failed'))[0].details.reason).toContain('410')

    const other = await firedEvent()
    const seen = receiver()
    for (const attempts of [1, 2]) {
      const { batch, outcome } = batchOf(other, attempts)
      await deliverRetrainBatch(batch, env)
      expect(outcome.acked).toBe(true)
    }
    expect(seen.map((s) => [s.signatureValid, s.idempotencyKey])).toEqual([
      [true, other],
      [true, other],
    ])
    expect((await events('webhook.delivered')).filter((e) => e.details.eventId === other)).toHaveLength(1)
  })
})
