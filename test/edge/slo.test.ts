import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SloStatus, SloView } from '../../core/formats/slo.ts'
import type { Report } from '../../core/formats/telemetry.ts'
import { verifyWebhook } from '../../core/webhook/signature.ts'
import type { ModelControl } from '../../edge/control/model-control.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, resetState, snapshot } from './api.ts'
import { appKey, makeBatch, makeReport, postBatch, setupModel } from './telemetry-fixtures.ts'

const MIN = 60_000
const SECRET = 'whsec_slo_0123456789abcdef'
let key: string
let model: string
let hook: string

interface Received {
  signatureValid: boolean
  event: string | null
  body: any
}

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = await setupModel('slo')
  hook = `https://oncall.example.test/slo/${model}`
})

afterEach(() => {
  vi.restoreAllMocks()
})

/** A webhook receiver at the network edge: outbound fetches to `hook` land here, their signature checked. */
function receiver(): Received[] {
  const seen: Received[] = []
  const original = globalThis.fetch
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init)
    if (!req.url.startsWith(hook)) return original(input as RequestInfo, init)
    const raw = await req.text()
    seen.push({
      signatureValid: await verifyWebhook(SECRET, req.headers.get('X-Edgefleet-Signature'), raw, Date.now()),
      event: req.headers.get('X-Edgefleet-Event'),
      body: JSON.parse(raw),
    })
    return new Response(null, { status: 204 })
  })
  return seen
}

function control() {
  return env.MODEL_CONTROL.get(env.MODEL_CONTROL.idFromName(model))
}

async function setClock(at: number): Promise<void> {
  await runInDurableObject(control(), (c: ModelControl) => {
    c.now = () => at
  })
}

/** Runs ModelControl's alarm with its clock at `at`. */
async function alarmAt(at: number): Promise<void> {
  await setClock(at)
  await runDurableObjectAlarm(control())
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

/** One telemetry/1 batch per device (the same 6 devices each time) in the minute starting at `start`. */
async function send(start: number, inferences: number, errors: number): Promise<void> {
  const rand = seededRandom(start % 1009)
  for (let d = 0; d < 6; d++) {
    const base = makeReport(rand, { model, start, inferences })
    const report: Report = { ...base, counts: { ...base.counts, errors } }
    const res = await postBatch(makeBatch(`dev_slo_${d}`, [report]), key)
    expect(res.status).toBe(202)
  }
}

const OBJECTIVES = [
  { name: 'answers', kind: 'error_rate', target: 0.99 },
  { name: 'fast', kind: 'latency', percentile: 99, thresholdMs: 50 },
]

describe('PUT/GET /v1/models/:model/slo', { timeout: 30_000 }, () => {
  it('stores the SLOs (admin), fills defaults, never shows the secret, audits the change, and evaluates', async () => {
    const put = await api('PUT', `/v1/models/${model}/slo`, {
      body: { objectives: OBJECTIVES, webhook: { url: hook, secret: SECRET } },
    })
    expect(put.status).toBe(200)
    const view = SloView.parse(await bodyOf(put))
    expect(view).toMatchObject({
      model,
      objectives: OBJECTIVES,
      period: '28d',
      enabled: true,
      revision: 1,
      updatedBy: 'admin',
      webhook: { url: hook, secret: '<redacted>' },
    })
    expect(view.lastEvaluatedAt).not.toBeNull()
    expect(view.nextEvaluationAt! % MIN).toBe(0)

    const reader = (
      await bodyOf(await api('POST', '/v1/tokens', { body: { name: 'reader', scopes: ['telemetry:read'] } }))
    ).token
    const got = await api('GET', `/v1/models/${model}/slo`, { token: reader })
    expect(await bodyOf(got)).toEqual(view)
    const status = SloStatus.parse(await bodyOf(await api('GET', `/v1/models/${model}/slo/status`, { token: reader })))
    expect(status.version).toBe(1)
    expect(status.objectives.map((o) => [o.name, o.state, o.target])).toEqual([
      ['answers', 'ok', 0.99],
      ['fast', 'ok', 0.99],
    ])
    // No telemetry: every window is below the k-anonymity threshold, and the budget unknown.
    expect(status.objectives[0].windows.map((w) => [w.window, w.suppressed, w.burnRate])).toEqual([
      ['5m', true, null],
      ['30m', true, null],
      ['1h', true, null],
      ['6h', true, null],
    ])
    expect(status.objectives[0].budget.remaining).toBeNull()

    const updated = await events('slo.updated')
    expect(updated).toHaveLength(1)
    expect(updated[0].details).toMatchObject({ revision: 1, period: '28d', webhook: { url: hook } })
    const everything = JSON.stringify((await env.DB.prepare('SELECT * FROM events').all()).results)
    expect(everything).not.toContain(SECRET)
  })

  it('refuses bad SLOs with a pointer and changes nothing; unknown models 404; only admin may set them', async () => {
    await api('PUT', `/v1/models/${model}/slo`, { body: { objectives: OBJECTIVES } })
    const before = await snapshot()
    const stored = await bodyOf(await api('GET', `/v1/models/${model}/slo`))
    for (const [body, pointer] of [
      [{ objectives: [] }, '/objectives'],
      [{ objectives: [{ name: 'e', kind: 'error_rate', target: 1 }] }, '/objectives/0/target'],
      [{ objectives: [{ name: 'l', kind: 'latency', percentile: 90, thresholdMs: 5 }] }, '/objectives/0/percentile'],
      [{ objectives: [{ name: 'l', kind: 'latency', percentile: 99, thresholdMs: -1 }] }, '/objectives/0/thresholdMs'],
      [{ objectives: [{ name: 'x', kind: 'accuracy', target: 0.9 }] }, '/objectives/0/kind'],
      [{ objectives: [OBJECTIVES[0], OBJECTIVES[0]] }, '/objectives/1/name'],
      [{ objectives: OBJECTIVES, period: '120d' }, '/period'],
      [{ objectives: OBJECTIVES, webhook: { url: hook, secret: 'short' } }, '/webhook/secret'],
    ] as const) {
      const res = await api('PUT', `/v1/models/${model}/slo`, { body })
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect((await bodyOf(res)).error).toMatchObject({ code: 'validation_failed', pointer })
    }
    expect(await snapshot()).toBe(before)
    expect(await bodyOf(await api('GET', `/v1/models/${model}/slo`))).toEqual(stored)

    expect((await api('PUT', '/v1/models/no-such-model/slo', { body: { objectives: OBJECTIVES } })).status).toBe(404)
    expect((await api('GET', '/v1/models/no-such-model/slo/status')).status).toBe(404)
    const other = await setupModel('slo-none')
    expect((await api('GET', `/v1/models/${other}/slo`)).status).toBe(404)
    expect((await api('GET', `/v1/models/${other}/slo/status`)).status).toBe(404)
    expect((await api('POST', `/v1/models/${other}/slo/evaluate`)).status).toBe(404)
    const writer = (
      await bodyOf(
        await api('POST', '/v1/tokens', { body: { name: 'writer', scopes: ['registry:write', 'telemetry:read'] } }),
      )
    ).token
    expect(
      (await api('PUT', `/v1/models/${model}/slo`, { token: writer, body: { objectives: OBJECTIVES } })).status,
    ).toBe(403)
    expect((await api('POST', `/v1/models/${model}/slo/evaluate`, { token: writer })).status).toBe(403)
    expect((await api('GET', `/v1/models/${model}/slo/status`, { token: key })).status).toBe(403)
  })
})

describe('SLO alerts', { timeout: 60_000 }, () => {
  it('a burst of errors breaches once (signed webhook), a later good stretch recovers once', async () => {
    const seen = receiver()
    const m0 = Math.floor(Date.now() / MIN) * MIN
    // Half of 600 inferences fail in minute m0−5: a 50 % error rate against a 1 % budget burns at 50.
    await send(m0 - 5 * MIN, 100, 50)

    // Set at m0−3 (+1 s): the windows end at m0−4, so the 5-minute window [m0−9, m0−4) holds the burst.
    await setClock(m0 - 3 * MIN + 1000)
    const put = await api('PUT', `/v1/models/${model}/slo`, {
      body: { objectives: OBJECTIVES, period: '7d', webhook: { url: hook, secret: SECRET } },
    })
    expect(put.status).toBe(200)
    const [breached] = await events('slo.breached')
    expect(breached).toMatchObject({ actor: 'slo', model })
    expect(breached.details).toMatchObject({
      objective: OBJECTIVES[0],
      from: 'ok',
      to: 'breached-fast',
      severity: 'page',
      version: 1,
      reason: 'burn rate 50 over 1h and 50 over 5m ≥ 14.4',
    })
    const w5 = breached.details.windows.find((w: any) => w.window === '5m')
    expect(w5).toMatchObject({ start: m0 - 9 * MIN, end: m0 - 4 * MIN, bad: 300, total: 600, devices: 6 })
    expect(w5.burnRate).toBeCloseTo(50, 9)
    // 300 bad of 600 against 1 % allowed: the budget is overspent 49 times over.
    expect(breached.details.budget).toMatchObject({ bad: 300, total: 600 })
    expect(breached.details.budget.remaining).toBeCloseTo(-49, 9)

    const status = SloStatus.parse(await bodyOf(await api('GET', `/v1/models/${model}/slo/status`)))
    expect(status.objectives.map((o) => [o.name, o.state])).toEqual([
      ['answers', 'breached-fast'],
      ['fast', 'ok'],
    ])
    expect(status.objectives[0].since).toBe(m0 - 3 * MIN + 1000)

    const delivered = await waitFor(async () => (await events('webhook.delivered'))[0])
    expect(delivered.details).toMatchObject({ eventId: breached.id, status: 204 })
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ signatureValid: true, event: 'slo.breached' })
    expect(seen[0].body).toMatchObject({
      id: breached.id,
      type: 'slo.breached',
      model,
      details: { to: 'breached-fast' },
    })

    // A minute later the burst is still in every window: the same state, no second event.
    await alarmAt(m0 - 2 * MIN + 1000)
    expect(await events('slo.breached')).toHaveLength(1)
    expect((await bodyOf(await api('GET', `/v1/models/${model}/slo`))).lastEvaluatedAt).toBe(m0 - 2 * MIN + 1000)

    // 60,000 good inferences in minute m0−2 bring every window to 300 / 60,600: a burn rate of ~0.5.
    await send(m0 - 2 * MIN, 10_000, 0)
    await alarmAt(m0 + 1000)
    const recovered = await events('slo.recovered')
    expect(recovered).toHaveLength(1)
    expect(recovered[0].details).toMatchObject({ from: 'breached-fast', to: 'ok', severity: null })
    const w5r = recovered[0].details.windows.find((w: any) => w.window === '5m')
    expect(w5r).toMatchObject({ bad: 300, total: 60_600 })
    expect(w5r.burnRate).toBeCloseTo(300 / 60_600 / 0.01, 9)
    await waitFor(async () => ((await events('webhook.delivered')).length === 2 ? true : undefined))
    expect(seen.map((s) => [s.event, s.signatureValid])).toEqual([
      ['slo.breached', true],
      ['slo.recovered', true],
    ])

    // Evaluating again changes nothing; the evaluate route answers the status and names no one in events.
    const again = await api('POST', `/v1/models/${model}/slo/evaluate`)
    expect(again.status).toBe(200)
    expect(SloStatus.parse(await bodyOf(again)).objectives.map((o) => o.state)).toEqual(['ok', 'ok'])
    expect(await events('slo.breached')).toHaveLength(1)
    expect(await events('slo.recovered')).toHaveLength(1)
    const budget = (await bodyOf(await api('GET', `/v1/models/${model}/slo/status`))).objectives[0].budget
    expect(budget).toMatchObject({ bad: 300, total: 60_600 })
    expect(budget.remaining).toBeCloseTo(1 - 300 / 60_600 / 0.01, 9)
  })

  it('a slow burn tickets, a fresh burst escalates to a page, easing records nothing, and recovery records once', async () => {
    const m0 = Math.floor(Date.now() / MIN) * MIN
    const objective = OBJECTIVES[0]
    await send(m0 - 20 * MIN, 100, 50)
    // Windows end at m0−11: the burst is in the 30-minute and 6-hour windows, not in the 5-minute one.
    await setClock(m0 - 10 * MIN + 1000)
    await api('PUT', `/v1/models/${model}/slo`, { body: { objectives: [objective] } })
    const transitions = async () =>
      [...(await events('slo.breached')), ...(await events('slo.recovered'))]
        .sort((a, b) => a.seq - b.seq)
        .map((e) => [e.type, e.details.from, e.details.to, e.details.severity])
    expect(await transitions()).toEqual([['slo.breached', 'ok', 'breached-slow', 'ticket']])
    const [ticket] = await events('slo.breached')
    expect(ticket.details.reason).toBe('burn rate 50 over 6h and 50 over 30m ≥ 6')
    expect(ticket.details.windows.find((w: any) => w.window === '5m')).toMatchObject({
      suppressed: true,
      burnRate: null,
    })

    await send(m0 - 8 * MIN, 100, 50)
    await alarmAt(m0 - 6 * MIN + 1000) // windows end at m0−7: the new burst is in the 5-minute window
    await alarmAt(m0 - 5 * MIN + 1000) // still there: nothing new
    await alarmAt(m0 + 1000) // windows end at m0−1: the 5-minute window is empty, the 30-minute one burns
    expect(await transitions()).toEqual([
      ['slo.breached', 'ok', 'breached-slow', 'ticket'],
      ['slo.breached', 'breached-slow', 'breached-fast', 'page'],
    ])
    const eased = SloStatus.parse(await bodyOf(await api('GET', `/v1/models/${model}/slo/status`)))
    expect(eased.objectives[0]).toMatchObject({ state: 'breached-slow', since: m0 + 1000 })

    await send(m0 - 2 * MIN, 10_000, 0)
    await alarmAt(m0 + MIN + 1000)
    expect(await transitions()).toEqual([
      ['slo.breached', 'ok', 'breached-slow', 'ticket'],
      ['slo.breached', 'breached-slow', 'breached-fast', 'page'],
      ['slo.recovered', 'breached-slow', 'ok', null],
    ])
  })

  it('disabled SLOs are kept but not judged', async () => {
    await api('PUT', `/v1/models/${model}/slo`, { body: { objectives: OBJECTIVES } })
    const off = await api('PUT', `/v1/models/${model}/slo`, { body: { objectives: OBJECTIVES, enabled: false } })
    expect(await bodyOf(off)).toMatchObject({ enabled: false, revision: 2, nextEvaluationAt: null })
    const refused = await api('POST', `/v1/models/${model}/slo/evaluate`)
    expect(refused.status).toBe(409)
    expect((await bodyOf(refused)).error.code).toBe('conflict')
    expect(await events('slo.updated')).toHaveLength(2)
  })

  it('slow latencies breach the latency objective; the evaluate route records who asked', async () => {
    const m0 = Math.floor(Date.now() / MIN) * MIN
    await setClock(m0 - 3 * MIN + 1000)
    await api('PUT', `/v1/models/${model}/slo`, { body: { objectives: [{ ...OBJECTIVES[1], thresholdMs: 2 }] } })
    // Latencies in the fixtures are uniform in [0.2, 5.2] ms: ~64 % over 2 ms against a 1 % budget.
    await send(m0 - 5 * MIN, 200, 0)
    const res = await api('POST', `/v1/models/${model}/slo/evaluate`, { body: {} })
    const status = SloStatus.parse(await bodyOf(res))
    expect(status.objectives[0].state).toBe('breached-fast')
    const w = status.objectives[0].windows[0]
    expect(w.total).toBe(1200)
    expect(w.bad / w.total).toBeGreaterThan(0.55)
    expect(w.bad / w.total).toBeLessThan(0.75)
    const [breached] = await events('slo.breached')
    expect(breached.details).toMatchObject({ requestedBy: 'admin', objective: { name: 'fast' } })

    // closeOpenWindow ends the windows at the next minute boundary (the clock is at m0−3 + 1 s): [m0−7, m0−2).
    const open = await api('POST', `/v1/models/${model}/slo/evaluate`, { body: { closeOpenWindow: true } })
    expect(SloStatus.parse(await bodyOf(open)).objectives[0].windows[0]).toMatchObject({
      start: m0 - 7 * MIN,
      end: m0 - 2 * MIN,
      total: 1200,
    })
    const bad = await api('POST', `/v1/models/${model}/slo/evaluate`, { body: { closeOpenWindow: 'yes' } })
    expect((await bodyOf(bad)).error).toMatchObject({ code: 'validation_failed', pointer: '/closeOpenWindow' })
  })

  it('no evaluation judges back in time: a later minute judging earlier windows leaves the state and records nothing', async () => {
    const m0 = Math.floor(Date.now() / MIN) * MIN
    await setClock(m0 - 3 * MIN + 1000)
    await api('PUT', `/v1/models/${model}/slo`, { body: { objectives: [OBJECTIVES[0]] } })
    // A burst in the minute still open; closeOpenWindow judges it at once: windows end at m0−2.
    await send(m0 - 3 * MIN, 100, 50)
    const asked = await api('POST', `/v1/models/${model}/slo/evaluate`, { body: { closeOpenWindow: true } })
    expect(SloStatus.parse(await bodyOf(asked)).objectives[0]).toMatchObject({ state: 'breached-fast' })
    expect(await events('slo.breached')).toHaveLength(1)

    // The next minute's evaluation reads windows ending at m0−3, without the burst: it is not stored.
    await alarmAt(m0 - 2 * MIN + 1000)
    const kept = SloStatus.parse(await bodyOf(await api('GET', `/v1/models/${model}/slo/status`)))
    expect(kept).toMatchObject({ evaluatedAt: m0 - 3 * MIN + 1000 })
    expect(kept.objectives[0]).toMatchObject({ state: 'breached-fast', since: m0 - 3 * MIN + 1000 })
    expect(kept.objectives[0].windows[0]).toMatchObject({ end: m0 - 2 * MIN, bad: 300, total: 600 })
    expect(await events('slo.recovered')).toHaveLength(0)
    // It is tried again the minute after, and that one reads the same windows: judged, nothing changed.
    expect((await bodyOf(await api('GET', `/v1/models/${model}/slo`))).nextEvaluationAt).toBe(m0 - MIN)
    await alarmAt(m0 - MIN + 1000)
    const next = SloStatus.parse(await bodyOf(await api('GET', `/v1/models/${model}/slo/status`)))
    expect(next).toMatchObject({ evaluatedAt: m0 - MIN + 1000 })
    expect(next.objectives[0]).toMatchObject({ state: 'breached-fast', since: m0 - 3 * MIN + 1000 })
    expect(next.objectives[0].windows[0]).toMatchObject({ end: m0 - 2 * MIN, bad: 300, total: 600 })
    expect(await events('slo.breached')).toHaveLength(1)
    expect(await events('slo.recovered')).toHaveLength(0)
  })
})
