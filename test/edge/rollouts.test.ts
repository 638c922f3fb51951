import { env, runInDurableObject } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { RolloutView } from '../../core/formats/rollout.ts'
import type { ModelControl } from '../../edge/control/model-control.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, resetState, snapshot, upload } from './api.ts'
import {
  alarmAt,
  canarySteps,
  assignOf,
  clockAt,
  control,
  devicesIn,
  eventsOf,
  MIN,
  publishVersion,
  sendReports,
  startCanary,
} from './rollout-fixtures.ts'
import { appKey, setupModel } from './telemetry-fixtures.ts'

let key: string
let model: string
let candidate: number

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = await setupModel('rollout')
  candidate = await publishVersion(model, 1)
})

afterEach(() => {
  vi.restoreAllMocks()
})

const STEPS = canarySteps()

function start(body: Record<string, unknown> = {}): Promise<RolloutView> {
  return startCanary(model, { candidate, ...body })
}

async function current(): Promise<RolloutView> {
  const res = await api('GET', `/v1/models/${model}/rollouts/current`)
  expect(res.status).toBe(200)
  return RolloutView.parse(await bodyOf(res))
}

/** A healthy step: `n` devices per arm, equal latency and no errors, in the current minute. */
async function healthyStep(r: RolloutView, percent: number, tag: string, n = 6): Promise<void> {
  const rand = seededRandom(n * 31 + tag.length)
  // The minute the step started on ModelControl's (injected) clock: the first cell its statistics read.
  const minute = Math.floor(r.stepStartedAt / MIN) * MIN
  const common = { model, rollout: r.id, start: minute, inferences: 20 }
  await sendReports(key, devicesIn(r.id, percent, 'candidate', n, tag), rand, {
    ...common,
    arm: 'candidate',
    version: candidate,
  })
  if (percent < 100)
    await sendReports(key, devicesIn(r.id, percent, 'baseline', n, tag), rand, {
      ...common,
      arm: 'baseline',
      version: 1,
    })
}

describe('POST/GET /v1/models/:model/rollouts', { timeout: 60_000 }, () => {
  it('starts a rollout against production, audits it, shows it on the model, and allows one active rollout per model', async () => {
    const r = await start()
    expect(r).toMatchObject({
      model,
      status: 'running',
      step: 0,
      percent: 20,
      reason: null,
      createdBy: 'admin',
      lastDecision: null,
    })
    expect(r.config).toMatchObject({
      candidate,
      baseline: 1,
      mode: 'canary',
      alpha: 0.05,
      evaluationSeconds: 30,
      ttlSeconds: 5,
    })
    expect(r.nextEvaluationAt).toBe(r.stepStartedAt + 30_000)
    expect(r.transitions).toEqual([
      expect.objectContaining({ action: 'start', from: null, to: { status: 'running', step: 0 } }),
    ])
    const started = await eventsOf(model, 'rollout.started')
    expect(started).toHaveLength(1)
    expect(started[0]).toMatchObject({
      id: r.transitions[0].eventId,
      actor: 'admin',
      details: { rollout: r.id, candidate, baseline: 1, percent: 20 },
    })
    expect((await bodyOf(await api('GET', `/v1/models/${model}`))).rollout).toMatchObject({
      id: r.id,
      status: 'running',
    })
    expect(await current()).toEqual(r)
    expect(RolloutView.parse(await bodyOf(await api('GET', `/v1/models/${model}/rollouts/${r.id}`)))).toEqual(r)

    const before = await snapshot()
    const again = await api('POST', `/v1/models/${model}/rollouts`, {
      body: { candidate, mode: 'canary', steps: STEPS },
    })
    expect(again.status).toBe(409)
    expect((await bodyOf(again)).error.code).toBe('conflict')
    expect(await snapshot()).toBe(before)
    expect((await current()).id).toBe(r.id)
  })

  it('a rollout of a model that does not exist is a 404 that says so, not "no rollout"', async () => {
    const res = await api('GET', '/v1/models/no-such-model/rollouts/current')
    expect(res.status).toBe(404)
    expect((await bodyOf(res)).error).toMatchObject({
      code: 'not_found',
      message: 'model "no-such-model" does not exist',
    })
    const none = await api('GET', `/v1/models/${model}/rollouts/current`)
    expect(none.status).toBe(404)
    expect((await bodyOf(none)).error.message).toBe(`model "${model}" has no rollout`)
  })

  it('refuses a rollout whose candidate does not take the inputs the baseline takes, saying what differs', async () => {
    const io = (width: number) => ({
      inputs: [{ name: 'features', dtype: 'float32', shape: ['batch', width] }],
      outputs: [{ name: 'weather', dtype: 'float32', shape: ['batch', 5] }],
    })
    const publishWith = async (width: number, allowInterfaceChange = false) => {
      const file = await upload('model.onnx', new Uint8Array([width, 1, 2, 3]))
      const res = await api('POST', `/v1/models/${model}/versions`, {
        body: { files: [file], interface: io(width), ...(allowInterfaceChange ? { allowInterfaceChange } : {}) },
      })
      expect(res.status, await res.clone().text()).toBe(201)
      return (await bodyOf(res)).version as number
    }
    const baseline = await publishWith(4)
    const wider = await publishWith(6, true)
    const res = await api('POST', `/v1/models/${model}/rollouts`, {
      body: { candidate: wider, baseline, mode: 'canary', steps: STEPS },
    })
    expect(res.status).toBe(409)
    expect((await bodyOf(res)).error).toMatchObject({
      code: 'interface_mismatch',
      pointer: '/candidate',
      message: `v${wider} cannot be rolled out against v${baseline}: input features: shape [batch, 4] became [batch, 6]`,
    })
    expect((await api('GET', `/v1/models/${model}/rollouts/current`)).status).toBe(404)
  })

  it('refuses bad rollouts with a stable code and a pointer, and changes nothing', async () => {
    const reader = (
      await bodyOf(await api('POST', '/v1/tokens', { body: { name: 'reader', scopes: ['registry:read'] } }))
    ).token
    // Tokens record when they were last used; everything else must be untouched.
    const state = async () => (await snapshot()).replace(/"last_used_at":(\d+|null)/g, '')
    const before = await state()
    const cases: [Record<string, unknown>, number, string, string?][] = [
      [
        {
          candidate,
          mode: 'canary',
          steps: [
            { percent: 50, minDevices: 5 },
            { percent: 20, minDevices: 5 },
          ],
        },
        400,
        'validation_failed',
        '/steps/1/percent',
      ],
      [{ candidate, mode: 'ab', steps: STEPS }, 400, 'validation_failed', '/steps'],
      [{ candidate, mode: 'blue-green', steps: STEPS }, 400, 'validation_failed', '/mode'],
      [
        { candidate, mode: 'canary', steps: STEPS, guardrails: [{ metric: 'error_rate', max: 0.01, maxDiff: 0.01 }] },
        400,
        'validation_failed',
        '/guardrails/0/maxDiff',
      ],
      [
        { candidate, mode: 'canary', steps: STEPS, guardrails: [{ metric: 'data_quality', maxRate: 0 }] },
        400,
        'validation_failed',
        '/guardrails/0/maxRate',
      ],
      [
        { candidate, mode: 'canary', steps: STEPS, guardrails: [{ metric: 'data_quality', maxRate: 0.1, minRows: 0 }] },
        400,
        'validation_failed',
        '/guardrails/0/minRows',
      ],
      [{ candidate: 99, mode: 'canary', steps: STEPS }, 404, 'not_found'],
      [{ candidate: 1, mode: 'canary', steps: STEPS }, 400, 'validation_failed', '/candidate'],
    ]
    for (const [body, status, code, pointer] of cases) {
      const res = await api('POST', `/v1/models/${model}/rollouts`, { body })
      expect(res.status, JSON.stringify(body)).toBe(status)
      const error = (await bodyOf(res)).error
      expect(error.code).toBe(code)
      if (pointer) expect(error.pointer).toBe(pointer)
    }
    expect(
      (await api('POST', `/v1/models/no-such-model/rollouts`, { body: { candidate, mode: 'canary', steps: STEPS } }))
        .status,
    ).toBe(404)
    expect(
      (
        await api('POST', `/v1/models/${model}/rollouts`, {
          token: reader,
          body: { candidate, mode: 'canary', steps: STEPS },
        })
      ).status,
    ).toBe(403)
    expect(
      (
        await api('POST', `/v1/models/${model}/rollouts`, {
          token: key,
          body: { candidate, mode: 'canary', steps: STEPS },
        })
      ).status,
    ).toBe(403)
    expect((await api('GET', `/v1/models/${model}/rollouts/current`)).status).toBe(404)
    expect(await state()).toBe(before)
    const deprecated = await publishVersion(model, 3)
    expect(
      (await api('PATCH', `/v1/models/${model}/versions/${deprecated}`, { body: { deprecated: true } })).status,
    ).toBe(200)
    const refused = await api('POST', `/v1/models/${model}/rollouts`, {
      body: { candidate: deprecated, mode: 'canary', steps: STEPS },
    })
    expect(refused.status).toBe(409)
    expect((await bodyOf(refused)).error).toMatchObject({ code: 'deprecated', pointer: '/candidate' })
  })
})

describe('assignment inside a rollout', { timeout: 60_000 }, () => {
  it('serves each arm its version with the rollout label and ttl, sticky across pause, resume and advance; targeting leaves others on production', async () => {
    const r = await start({ targeting: { platforms: ['linux'] } })
    const inside = devicesIn(r.id, 20, 'candidate', 3, 'a')
    const outside = devicesIn(r.id, 20, 'baseline', 3, 'a')
    for (const d of inside)
      expect(await assignOf(model, key, d, 'webgpu:0,platform:linux')).toMatchObject({
        version: candidate,
        rollout: { id: r.id, arm: 'candidate', mode: 'canary' },
        ttlSeconds: 5,
      })
    for (const d of outside)
      expect(await assignOf(model, key, d, 'webgpu:0,platform:linux')).toMatchObject({
        version: 1,
        rollout: { id: r.id, arm: 'baseline' },
      })
    // Not targeted: production, no label, the default ttl.
    const other = await assignOf(model, key, inside[0], 'webgpu:0,platform:windows')
    expect(other.version).toBe(1)
    expect(other.rollout).toBeUndefined()
    expect(other.ttlSeconds).toBe(30)

    await api('POST', `/v1/models/${model}/rollouts/${r.id}/pause`, { body: {} })
    for (const d of inside) expect((await assignOf(model, key, d, 'webgpu:0,platform:linux')).version).toBe(candidate)
    await api('POST', `/v1/models/${model}/rollouts/${r.id}/resume`)
    const adv = await api('POST', `/v1/models/${model}/rollouts/${r.id}/advance`, { body: { expectStep: 0 } })
    expect(adv.status).toBe(200)
    for (const d of [...inside, ...outside])
      expect((await assignOf(model, key, d, 'webgpu:0,platform:linux')).version).toBe(candidate)
  })

  it('in shadow mode serves the baseline to everyone and the candidate as a background shadow to the candidate arm', async () => {
    const r = await start({ mode: 'shadow', shadowSampleRate: 0.5 })
    const [c] = devicesIn(r.id, 20, 'candidate', 1, 's')
    const [b] = devicesIn(r.id, 20, 'baseline', 1, 's')
    const a = await assignOf(model, key, c)
    expect(a).toMatchObject({
      version: 1,
      role: 'primary',
      rollout: { id: r.id, arm: 'candidate', mode: 'shadow' },
      shadow: { version: candidate, sampleRate: 0.5 },
    })
    expect(a.shadow.files[0].url).toMatch(/\/v1\/artifacts\/[0-9a-f]{64}$/)
    const base = await assignOf(model, key, b)
    expect(base).toMatchObject({ version: 1, rollout: { arm: 'baseline' } })
    expect(base.shadow).toBeUndefined()
  })
})

describe('the rollout state machine (ModelControl alarms on synthetic arm statistics)', { timeout: 90_000 }, () => {
  it('advances a healthy step, then promotes: production moves, every transition is an event, webhooks hear about the promotion', async () => {
    const hook = `https://hooks.example.test/rollouts/${model}`
    const seen: any[] = []
    const original = globalThis.fetch
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const req = new Request(input as RequestInfo, init)
      if (!req.url.startsWith(hook)) return original(input as RequestInfo, init)
      seen.push(JSON.parse(await req.text()))
      return new Response(null, { status: 204 })
    })
    await api('PUT', `/v1/models/${model}/policy`, {
      body: { when: { anyFeatureDrifted: {} }, webhook: { url: hook, secret: 'whsec_rollouts_0123456789' } },
    })
    const r = await start({
      guardrails: [
        { metric: 'error_rate', maxDiff: 0.01, minDevices: 5 },
        { metric: 'latency_p95', maxRatio: 1.5 },
      ],
    })
    // Too few devices: hold, with the evidence recorded.
    await sendReports(key, devicesIn(r.id, 20, 'candidate', 2, 'x'), seededRandom(1), {
      model,
      rollout: r.id,
      arm: 'candidate',
      version: candidate,
      start: Math.floor(Date.now() / MIN) * MIN,
    })
    await alarmAt(model, r.stepStartedAt + 30_000)
    let now = await current()
    expect(now).toMatchObject({
      step: 0,
      status: 'running',
      lastDecision: { action: 'hold', reason: 'insufficient_devices', step: 0 },
    })
    expect(now.lastDecision!.arms.candidate).toMatchObject({ version: candidate, devices: 2 })
    expect(now.nextEvaluationAt).toBe(r.stepStartedAt + 60_000)

    await healthyStep(r, 20, 'h')
    await alarmAt(model, r.stepStartedAt + 60_000)
    now = await current()
    expect(now).toMatchObject({ step: 1, status: 'running', percent: 100 })
    expect(now.transitions.map((t) => t.action)).toEqual(['start', 'advance'])
    expect(now.stepStartedAt).toBe(r.stepStartedAt + 60_000)
    const advanced = await eventsOf(model, 'rollout.advanced')
    expect(advanced).toHaveLength(1)
    expect(advanced[0].details).toMatchObject({
      rollout: r.id,
      reason: 'step_complete',
      from: { step: 0, percent: 20 },
      to: { step: 1, percent: 100 },
    })
    expect(advanced[0].details.evidence.guardrails.map((g: any) => g.status)).toEqual(['ok', 'ok'])

    await healthyStep(now, 100, 'p')
    await alarmAt(model, r.stepStartedAt + 90_000)
    now = await current()
    expect(now).toMatchObject({
      status: 'promoted',
      percent: 100,
      reason: 'last_step_complete',
      nextEvaluationAt: null,
    })
    expect(
      (
        await env.DB.prepare("SELECT version FROM aliases WHERE model = ?1 AND alias = 'production'")
          .bind(model)
          .first<any>()
      )?.version,
    ).toBe(candidate)
    const moved = await eventsOf(model, 'alias.moved')
    expect(moved.at(-1)).toMatchObject({
      actor: 'rollout',
      details: { alias: 'production', from: 1, to: candidate, rollout: r.id },
    })
    expect(await eventsOf(model, 'rollout.promoted')).toHaveLength(1)
    // The promotion reaches the webhook (delivered by the Queue consumer).
    const until = Date.now() + 10_000
    while (!seen.some((e) => e.type === 'rollout.promoted') && Date.now() < until)
      await new Promise((res) => setTimeout(res, 100))
    expect(seen.filter((e) => e.type === 'rollout.promoted')).toHaveLength(1)
    expect(seen.some((e) => e.type === 'rollout.advanced')).toBe(false)
    // Ended: no more evaluations, every device on the new production, another rollout may start.
    expect((await assignOf(model, key, 'dev_after_promotion')).version).toBe(candidate)
    expect((await api('POST', `/v1/models/${model}/rollouts/${r.id}/rollback`)).status).toBe(409)
    const next = await publishVersion(model, 2)
    expect(
      (await api('POST', `/v1/models/${model}/rollouts`, { body: { candidate: next, mode: 'canary', steps: STEPS } }))
        .status,
    ).toBe(201)
  })

  it('an A/B test holds its split, shows per-arm figures, and a person promotes the winner', async () => {
    const r = await start({ mode: 'ab', steps: [{ percent: 50, minDevices: 3 }], guardrails: [] })
    const minute = Math.floor(Date.now() / MIN) * MIN
    const rand = seededRandom(23)
    const common = { model, rollout: r.id, start: minute }
    await sendReports(key, devicesIn(r.id, 50, 'candidate', 5, 'ab'), rand, {
      ...common,
      arm: 'candidate',
      version: candidate,
      latencyMs: 3,
    })
    await sendReports(key, devicesIn(r.id, 50, 'baseline', 5, 'ab'), rand, {
      ...common,
      arm: 'baseline',
      version: 1,
      latencyMs: 6,
      errors: 2,
    })
    await alarmAt(model, r.stepStartedAt + 10 * MIN)
    const held = await current()
    // An A/B split never moves by itself, however long it runs.
    expect(held).toMatchObject({ status: 'running', step: 0, percent: 50, lastDecision: { action: 'hold' } })
    expect(held.lastDecision!.arms.candidate).toMatchObject({ version: candidate, devices: 5 })
    expect(held.lastDecision!.arms.baseline).toMatchObject({ version: 1, devices: 5 })
    const promoted = await api('POST', `/v1/models/${model}/rollouts/${r.id}/promote`, {
      body: { expectStep: 0, reason: 'candidate wins on latency and errors' },
    })
    expect(promoted.status).toBe(200)
    expect(await bodyOf(promoted)).toMatchObject({ status: 'promoted' })
    const detail = await bodyOf(await api('GET', `/v1/models/${model}`))
    expect(detail.aliases.production).toBe(candidate)
    const [event] = await eventsOf(model, 'rollout.promoted')
    expect(event).toMatchObject({ actor: 'admin', details: { reason: 'candidate wins on latency and errors' } })
  })

  it('in shadow mode judges the candidate by the shadow-role reports of its arm: disagreement rolls it back', async () => {
    const r = await start({
      mode: 'shadow',
      shadowSampleRate: 1,
      guardrails: [{ metric: 'shadow_disagreement', max: 0.05, minDevices: 5 }],
    })
    const minute = Math.floor(Date.now() / MIN) * MIN
    const rand = seededRandom(17)
    const devices = devicesIn(r.id, 20, 'candidate', 6, 's')
    // The candidate arm reports twice: its primary (the baseline version) and the shadow it ran behind it.
    await sendReports(key, devices, rand, { model, rollout: r.id, arm: 'candidate', version: 1, start: minute })
    await sendReports(key, devices, rand, {
      model,
      rollout: r.id,
      arm: 'candidate',
      version: candidate,
      role: 'shadow',
      start: minute,
      shadow: { compared: 20, agreed: 14, meanAbsDiff: 0.3 },
    })
    await sendReports(key, devicesIn(r.id, 20, 'baseline', 6, 's'), rand, {
      model,
      rollout: r.id,
      arm: 'baseline',
      version: 1,
      start: minute,
    })
    await alarmAt(model, r.stepStartedAt + 30_000)
    const now = await current()
    expect(now).toMatchObject({ status: 'rolled_back', reason: 'guardrail:shadow_disagreement' })
    const guardrails = now.lastDecision!.evidence.guardrails as { metric: string; status: string; value: number }[]
    const shadow = guardrails.find((g) => g.metric === 'shadow_disagreement')
    expect(shadow).toMatchObject({ status: 'breach', limit: 0.05 })
    // 6 of 20 comparisons disagreed on every candidate device.
    expect(shadow!.value).toBeCloseTo(0.3, 6)
  })

  it('rolls back on a latency breach (3× p95): candidate share 0 at once, reason and evidence in the event', async () => {
    const r = await start({ guardrails: [{ metric: 'latency_p95', maxRatio: 1.2 }] })
    const minute = Math.floor(Date.now() / MIN) * MIN
    const rand = seededRandom(7)
    await sendReports(key, devicesIn(r.id, 20, 'candidate', 6, 'l'), rand, {
      model,
      rollout: r.id,
      arm: 'candidate',
      version: candidate,
      start: minute,
      latencyMs: 12,
    })
    await sendReports(key, devicesIn(r.id, 20, 'baseline', 6, 'l'), rand, {
      model,
      rollout: r.id,
      arm: 'baseline',
      version: 1,
      start: minute,
      latencyMs: 4,
    })
    await alarmAt(model, r.stepStartedAt + 30_000)
    const now = await current()
    expect(now).toMatchObject({
      status: 'rolled_back',
      percent: 0,
      reason: 'guardrail:latency_p95',
      lastDecision: { action: 'rollback' },
    })
    const g = (now.lastDecision!.evidence.guardrails as any[])[0]
    expect(g).toMatchObject({ metric: 'latency_p95', status: 'breach', limit: 1.2 })
    expect(g.value).toBeCloseTo(3, 1)
    const [event] = await eventsOf(model, 'rollout.rolled_back')
    expect(event).toMatchObject({
      actor: 'rollout',
      details: { reason: 'guardrail:latency_p95', to: { status: 'rolled_back', percent: 0 } },
    })
    for (const d of devicesIn(r.id, 20, 'candidate', 3, 'l')) {
      const a = await assignOf(model, key, d)
      expect(a.version).toBe(1)
      expect(a.rollout).toBeUndefined()
    }
  })

  it('rolls back a candidate whose devices report a high data-quality problem rate, naming the feature in the evidence', async () => {
    const r = await start({ guardrails: [{ metric: 'data_quality', maxRate: 0.05 }] })
    const minute = Math.floor(Date.now() / MIN) * MIN
    const rand = seededRandom(11)
    const quality = (bad: number) => ({
      temp_max: { rows: 20, missing: 0, nonFinite: bad, wrongType: 0, outOfRange: bad, unknownCategory: 0 },
      weather: { rows: 20, missing: 1, nonFinite: 0, wrongType: 0, outOfRange: 0, unknownCategory: 0 },
    })
    const common = { model, rollout: r.id, start: minute }
    // Candidate: 8 of 20 temp_max values bad on each of 6 devices (0.4); baseline: weather 1 of 20 missing (0.05).
    await sendReports(key, devicesIn(r.id, 20, 'candidate', 6, 'q'), rand, {
      ...common,
      arm: 'candidate',
      version: candidate,
      quality: quality(4),
    })
    await sendReports(key, devicesIn(r.id, 20, 'baseline', 6, 'q'), rand, {
      ...common,
      arm: 'baseline',
      version: 1,
      quality: quality(0),
    })
    await alarmAt(model, r.stepStartedAt + 30_000)
    const now = await current()
    expect(now).toMatchObject({ status: 'rolled_back', percent: 0, reason: 'guardrail:data_quality' })
    const g = (now.lastDecision!.evidence.guardrails as any[])[0]
    expect(g).toMatchObject({
      metric: 'data_quality',
      status: 'breach',
      limit: 0.05,
      feature: 'temp_max',
      stats: { candidateRows: 120, candidateRate: 0.4, baselineRows: 120, baselineRate: 0.05 },
    })
    expect(g.value).toBeCloseTo(0.35, 12)
    expect(now.lastDecision!.arms.candidate.quality).toEqual({ feature: 'temp_max', rate: 0.4, rows: 120 })
    expect(now.lastDecision!.arms.baseline.quality).toEqual({ feature: 'weather', rate: 0.05, rows: 120 })
    const [event] = await eventsOf(model, 'rollout.rolled_back')
    expect(event).toMatchObject({
      actor: 'rollout',
      details: { reason: 'guardrail:data_quality', to: { status: 'rolled_back', percent: 0 } },
    })
    expect(JSON.stringify(event.details)).toContain('"feature":"temp_max"')
  })

  it('holds a candidate whose data quality is as good as the baseline, and judges absolute bounds alone', async () => {
    const r = await start({
      guardrails: [
        { metric: 'data_quality', maxRate: 0.05 },
        { metric: 'data_quality', maxRate: 0.2, absolute: true },
      ],
    })
    const minute = Math.floor(Date.now() / MIN) * MIN
    const rand = seededRandom(12)
    const quality = {
      temp_max: { rows: 20, missing: 2, nonFinite: 0, wrongType: 0, outOfRange: 0, unknownCategory: 0 },
    }
    for (const [arm, version] of [
      ['candidate', candidate],
      ['baseline', 1],
    ] as const)
      await sendReports(key, devicesIn(r.id, 20, arm, 6, 'h'), rand, {
        model,
        rollout: r.id,
        start: minute,
        arm,
        version,
        quality,
      })
    await alarmAt(model, r.stepStartedAt + 30_000)
    const now = await current()
    expect(now.status).toBe('running')
    const [relative, absolute] = now.lastDecision!.evidence.guardrails as any[]
    expect(relative).toMatchObject({ status: 'ok', value: 0, feature: 'temp_max' })
    expect(absolute).toMatchObject({ status: 'ok', value: 0.1, stats: { baselineRows: null } })
  })

  it('pauses on a sample-ratio mismatch once devices have settled, and keeps protecting while paused', async () => {
    const r = await start({ ttlSeconds: 1, guardrails: [{ metric: 'error_rate', max: 0.05, minDevices: 5 }] })
    const settledFrom = Math.ceil((r.stepStartedAt + 1000 + 5000) / MIN) * MIN
    const rand = seededRandom(11)
    // 20% expected, 30 of 40 devices report as candidate: p ≪ 0.001.
    const common = { model, rollout: r.id, start: settledFrom }
    await sendReports(key, devicesIn(r.id, 20, 'candidate', 30, 'm'), rand, {
      ...common,
      arm: 'candidate',
      version: candidate,
    })
    await sendReports(key, devicesIn(r.id, 20, 'baseline', 10, 'm'), rand, { ...common, arm: 'baseline', version: 1 })
    await alarmAt(model, Math.max(settledFrom + 1000, r.stepStartedAt + 31_000))
    let now = await current()
    expect(now).toMatchObject({ status: 'paused', reason: 'srm', lastDecision: { action: 'pause', reason: 'srm' } })
    expect(now.lastDecision!.evidence.srm as any).toMatchObject({
      srm: true,
      observed: { baseline: 10, candidate: 30 },
      expectedShare: 0.2,
    })
    expect((await eventsOf(model, 'rollout.paused'))[0].details.reason).toBe('srm')
    // Still judged while paused: errors on the candidate now roll it back.
    await sendReports(key, devicesIn(r.id, 20, 'candidate', 30, 'm'), rand, {
      ...common,
      arm: 'candidate',
      version: candidate,
      errors: 10,
    })
    await alarmAt(model, now.nextEvaluationAt!)
    now = await current()
    expect(now).toMatchObject({ status: 'rolled_back', reason: 'guardrail:error_rate' })
  })

  it('a replayed alarm never takes a second step, and a stale evaluation loses the compare-and-set to an operator', async () => {
    const r = await start({
      steps: [
        { percent: 20, minDevices: 5 },
        { percent: 50, minDevices: 5 },
        { percent: 100, minDevices: 5 },
      ],
    })
    await healthyStep(r, 50, 'r')
    const at = r.stepStartedAt + 30_000
    await alarmAt(model, at)
    await alarmAt(model, at)
    await runInDurableObject(control(model), async (c: ModelControl) => {
      c.now = () => at
      await c.alarm()
      await c.alarm()
    })
    let now = await current()
    expect(now.step).toBe(1)
    expect(now.transitions.map((t) => t.action)).toEqual(['start', 'advance'])
    expect(await eventsOf(model, 'rollout.advanced')).toHaveLength(1)

    // An evaluation that read statistics for step 1 while an operator paused it: nothing applies.
    await runInDurableObject(control(model), async (c: ModelControl) => {
      c.now = () => at + 30_000
      const evaluate = (c as any).evaluateRollout.bind(c)
      const racing = evaluate(`rollout:evaluate:${r.id}:1`, at + 30_000)
      await c.actOnRollout(r.id, 'pause', 'operator')
      await racing
    })
    now = await current()
    expect(now).toMatchObject({ step: 1, status: 'paused', reason: 'manual' })
    expect(now.transitions.map((t) => t.action)).toEqual(['start', 'advance', 'pause'])
  })

  it('a crash inside a transition changes nothing; a crash before its outbox is applied is repaired once by the next alarm', async () => {
    const r = await start({
      steps: [
        { percent: 20, minDevices: 5 },
        { percent: 100, minDevices: 5 },
      ],
    })
    await healthyStep(r, 20, 'c')
    const at = r.stepStartedAt + 30_000
    await runInDurableObject(control(model), (c: ModelControl) => {
      c.beforeTransitionCommit = () => {
        throw new Error('simulated crash before commit')
      }
    })
    await alarmAt(model, at)
    let now = await current()
    expect(now).toMatchObject({ step: 0, status: 'running' })
    expect(now.transitions).toHaveLength(1)
    expect(await eventsOf(model, 'rollout.advanced')).toHaveLength(0)

    // The transition commits, but D1 is down while the outbox drains (as if the object died right after).
    const realDb = env.DB
    await runInDurableObject(control(model), (c: ModelControl) => {
      c.beforeTransitionCommit = undefined
      const failing = new Proxy(realDb, {
        get(target, prop) {
          if (prop === 'batch') return () => Promise.reject(new Error('D1 unavailable'))
          if (prop === 'prepare')
            return (sql: string) => {
              const stmt = target.prepare(sql)
              if (!/^\s*INSERT/i.test(sql)) return stmt
              return new Proxy(stmt, {
                get: (s, p) =>
                  p === 'bind'
                    ? (...a: unknown[]) =>
                        new Proxy(s.bind(...a), {
                          get: (b, q) =>
                            q === 'run'
                              ? () => Promise.reject(new Error('D1 unavailable'))
                              : ((b as any)[q]?.bind?.(b) ?? (b as any)[q]),
                        })
                    : ((s as any)[p]?.bind?.(s) ?? (s as any)[p]),
              })
            }
          return (target as any)[prop]
        },
      })
      ;(c as any).env = { ...(c as any).env, DB: failing }
    })
    // The failed evaluation was rescheduled a minute later.
    await alarmAt(model, at + 60_000)
    now = await current()
    expect(now).toMatchObject({ step: 1, percent: 100 })
    expect(await eventsOf(model, 'rollout.advanced')).toHaveLength(0)
    const pending = await runInDurableObject(
      control(model),
      (c: ModelControl) => (c as any).sql.exec('SELECT COUNT(*) AS n FROM outbox').one().n as number,
    )
    expect(pending).toBe(1)

    await runInDurableObject(control(model), (c: ModelControl) => {
      ;(c as any).env = { ...(c as any).env, DB: realDb }
    })
    await alarmAt(model, at + 70_000)
    await alarmAt(model, at + 70_000)
    expect(await eventsOf(model, 'rollout.advanced')).toHaveLength(1)
    expect(
      await runInDurableObject(
        control(model),
        (c: ModelControl) => (c as any).sql.exec('SELECT COUNT(*) AS n FROM outbox').one().n as number,
      ),
    ).toBe(0)
  })
})

describe('manual actions', { timeout: 60_000 }, () => {
  it('pause, resume, advance (compare-and-set on the step), rollback as a kill switch; ended rollouts refuse actions', async () => {
    const r = await start({
      steps: [
        { percent: 20, minDevices: 5 },
        { percent: 50, minDevices: 5 },
        { percent: 100, minDevices: 5 },
      ],
    })
    const act = (action: string, body?: unknown) =>
      api('POST', `/v1/models/${model}/rollouts/${r.id}/${action}`, body === undefined ? {} : { body })
    expect((await act('resume')).status).toBe(409)
    const paused = RolloutView.parse(await bodyOf(await act('pause', { reason: 'checking dashboards' })))
    expect(paused).toMatchObject({
      status: 'paused',
      reason: 'checking dashboards',
      nextEvaluationAt: expect.any(Number),
    })
    expect((await act('pause')).status).toBe(409)
    await clockAt(model, Date.now() + 1000)
    const resumed = RolloutView.parse(await bodyOf(await act('resume')))
    expect(resumed.status).toBe('running')
    expect(resumed.stepStartedAt).toBeGreaterThan(r.stepStartedAt)
    const stale = await act('advance', { expectStep: 1 })
    expect(stale.status).toBe(409)
    expect((await bodyOf(stale)).error.pointer).toBe('/expectStep')
    expect(RolloutView.parse(await bodyOf(await act('advance', { expectStep: 0 })))).toMatchObject({
      step: 1,
      percent: 50,
    })
    const bad = await act('advance', { expectStep: 'one' })
    expect(bad.status).toBe(400)

    const [c] = devicesIn(r.id, 50, 'candidate', 1, 'k')
    expect((await assignOf(model, key, c)).version).toBe(candidate)
    const rolled = RolloutView.parse(await bodyOf(await act('rollback', { reason: 'support tickets' })))
    expect(rolled).toMatchObject({
      status: 'rolled_back',
      percent: 0,
      reason: 'support tickets',
      nextEvaluationAt: null,
    })
    expect((await assignOf(model, key, c)).version).toBe(1)
    for (const a of ['pause', 'resume', 'advance', 'rollback', 'promote']) expect((await act(a)).status).toBe(409)
    expect((await api('POST', `/v1/models/${model}/rollouts/ro_missing/pause`)).status).toBe(404)
    const kinds = (await eventsOf(model)).map((e) => e.type).filter((t) => t.startsWith('rollout.'))
    expect(kinds).toEqual([
      'rollout.started',
      'rollout.paused',
      'rollout.resumed',
      'rollout.advanced',
      'rollout.rolled_back',
    ])
    expect((await eventsOf(model, 'rollout.rolled_back'))[0]).toMatchObject({
      actor: 'admin',
      details: { reason: 'support tickets' },
    })
  })
})
