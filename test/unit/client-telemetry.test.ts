import 'fake-indexeddb/auto'
import { describe, expect, it } from 'vitest'
import type * as z from 'zod'
import { Batch, Report, WINDOW_MS } from '../../core/formats/telemetry.ts'
import { FeatureHistogram } from '../../core/profile/histogram.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import { openDatabase } from '../../client/db.ts'
import { TelemetryQueue } from '../../client/telemetry/queue.ts'
import { alignWindow, ReportBuilder, type ReportTarget } from '../../client/telemetry/report-builder.ts'
import { TelemetryProcessor, type LockManagerLike } from '../../client/telemetry/processor.ts'
import { BACKOFF_MAX_MS, backoffMs, createTransport, parseRetryAfter } from '../../client/telemetry/transport.ts'
import type { StatsDelta } from '../../worker/protocol.ts'
import { PROFILE } from '../helpers/telemetry.ts'
import { seededRandom } from '../../scripts/lib/random.ts'

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0)
const TARGET: ReportTarget = {
  model: 'weather',
  version: 3,
  role: 'primary',
  rollout: { id: 'r1', arm: 'candidate' },
  backend: 'wasm',
  fallbacks: { webgpu: 'not_available' },
}
const DEVICE = { id: 'd_0123456789abcdef', caps: { webgpu: false }, sdk: '0.1.0' }

let dbs = 0
const freshQueue = async (maxBatches?: number, now = () => T0) =>
  new TelemetryQueue(await openDatabase(`telemetry-test-${++dbs}`), { maxBatches, now })

/** A worker delta as `LoadedModel.collect` builds it: values binned by the profile's FeatureHistograms. */
function delta(
  key: string,
  start: number,
  end: number,
  rand: () => number,
  values: unknown[] = [],
  inferences?: number,
): StatsDelta {
  const hists = {
    temp_max: new FeatureHistogram(PROFILE.features.temp_max as never),
    weather: new FeatureHistogram(PROFILE.features.weather as never),
  }
  const label = new FeatureHistogram(PROFILE.outputs.label as never)
  const latency = new DDSketch()
  const n = inferences ?? 3 + Math.floor(rand() * 10)
  for (let i = 0; i < n; i++) {
    hists.temp_max.add(values[i % Math.max(1, values.length)] ?? rand() * 30)
    hists.weather.add(values[i % Math.max(1, values.length)] ?? (rand() < 0.5 ? 'sun' : 'rain'))
    label.add(rand() < 0.5 ? 'sun' : 'rain')
    latency.add(0.5 + rand() * 4)
  }
  return {
    key,
    window: { start, end },
    inferences: n,
    errors: n > 0 && rand() < 0.3 ? 1 : 0,
    latency: latency.toJSON(),
    features: { temp_max: hists.temp_max.snapshot(), weather: hists.weather.snapshot() },
    outputs: { label: label.snapshot() },
  }
}

/** A fetch that answers from a script and records every request's exact body bytes. */
function scriptedFetch(answers: Array<() => Response>) {
  const calls: { url: string; body: Uint8Array; headers: Record<string, string> }[] = []
  const fetch = async (url: string | URL | Request, init?: RequestInit) => {
    const body = new Uint8Array(await new Response(init?.body).arrayBuffer())
    calls.push({ url: String(url), body, headers: { ...(init?.headers as Record<string, string>) } })
    const next = answers.shift()
    if (!next) throw new TypeError('network down')
    return next()
  }
  return { fetch: fetch as typeof globalThis.fetch, calls }
}
const answer =
  (status: number, body: unknown = {}, headers: Record<string, string> = {}) =>
  () =>
    new Response(JSON.stringify(body), { status, headers })
const gunzip = async (bytes: Uint8Array) =>
  new Response(new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'))).text()

function processor(
  queue: TelemetryQueue,
  fetch: typeof globalThis.fetch | undefined,
  clock: { t: number },
  collect: (k: string) => Promise<StatsDelta>,
  page: {
    window?: EventTarget
    sendBeacon?: (url: string, data: BodyInit) => boolean
    appKey?: string
    locks?: LockManagerLike | null
    tab?: string
  } = {},
) {
  let ids = 0
  return new TelemetryProcessor({
    queue,
    transport: createTransport({
      endpoint: 'https://edge.test',
      appKey: page.appKey ?? 'ef_key',
      fetch,
      now: () => clock.t,
      random: () => 0.5,
      sendBeacon: page.sendBeacon,
    }),
    collect,
    device: async () => DEVICE,
    now: () => clock.t,
    random: () => 0,
    locks: page.locks ?? null,
    window: page.window ?? null,
    document: null,
    timers: false,
    batchId: () => `batch_${page.tab ?? ''}${String(++ids).padStart(4, '0')}`,
  })
}

describe('report builder', () => {
  it('aligns windows to UTC minutes, whatever the timer jitter', () => {
    expect(alignWindow(T0 + 50, T0 + WINDOW_MS + 80)).toEqual({ start: T0, end: T0 + WINDOW_MS })
    expect(alignWindow(T0 + 10_000, T0 + 20_000)).toEqual({ start: T0, end: T0 + WINDOW_MS })
    expect(alignWindow(T0 + 30_000, T0 + 3 * WINDOW_MS + 30_000)).toEqual({ start: T0, end: T0 + 4 * WINDOW_MS })
    expect(alignWindow(T0, T0 + 5 * 60 * WINDOW_MS)).toEqual({
      start: T0 + 4 * 60 * WINDOW_MS,
      end: T0 + 5 * 60 * WINDOW_MS,
    })
    const rand = seededRandom(7)
    for (let i = 0; i < 500; i++) {
      const start = T0 + Math.floor(rand() * 1e9)
      const w = alignWindow(start, start + Math.floor(rand() * 3 * 3_600_000))
      expect(w.start % WINDOW_MS).toBe(0)
      expect(w.end % WINDOW_MS).toBe(0)
      expect(w.end - w.start).toBeGreaterThanOrEqual(WINDOW_MS)
      expect(w.end - w.start).toBeLessThanOrEqual(60 * WINDOW_MS)
    }
  })

  it('merges deltas per target and window, folds in main-thread loads, and validates as telemetry/1', () => {
    const rand = seededRandom(1)
    const b = new ReportBuilder()
    b.track('k1', TARGET)
    b.track('k2', { ...TARGET, role: 'shadow', rollout: undefined })
    b.noteLoad('k1', { ms: 120, cacheHit: true })
    b.noteLoad('k1', { ms: 300, cacheHit: false })
    const d1 = delta('k1', T0 + 100, T0 + 30_000, rand)
    const d2 = delta('k1', T0 + 30_000, T0 + 60_050, rand)
    b.add(d1)
    b.add(d2)
    b.add(delta('k2', T0 + 60_050, T0 + 120_040, rand))
    b.add(delta('unknown', T0, T0 + 1, rand))
    const reports = b.drain()
    expect(reports).toHaveLength(2)
    for (const r of reports) expect(Report.parse(r)).toEqual(r)
    const [a, s] = reports
    expect(a.window).toEqual({ start: T0, end: T0 + WINDOW_MS })
    expect(a.rollout).toEqual({ id: 'r1', arm: 'candidate' })
    expect(a.counts).toEqual({
      inferences: d1.inferences + d2.inferences,
      errors: d1.errors + d2.errors,
      cacheHits: 1,
      loads: 2,
    })
    expect(a.loadMs.n).toBe(2)
    expect(a.latency.n).toBe(d1.inferences + d2.inferences)
    expect(a.features.temp_max.counts.reduce((x, y) => x + y, 0)).toBe(d1.inferences + d2.inferences)
    expect(s).toMatchObject({
      role: 'shadow',
      window: { start: T0 + WINDOW_MS, end: T0 + 2 * WINDOW_MS },
      counts: { loads: 0 },
    })
    expect(b.drain()).toEqual([])
  })

  it('privacy: sentinel feature values never reach the bytes, and every key is one the schema knows', async () => {
    const SENTINELS = ['123456.789', 'SENTINEL-STRING']
    const rand = seededRandom(99)
    const b = new ReportBuilder()
    b.track('k', TARGET)
    // Real binning of the sentinels, plus fields a careless worker might add: none may pass.
    const d = delta('k', T0, T0 + WINDOW_MS, rand, [123456.789, 'SENTINEL-STRING'])
    const leaky = {
      ...d,
      raw: [123456.789, 'SENTINEL-STRING'],
      features: { ...d.features, temp_max: { ...d.features.temp_max, sample: 'SENTINEL-STRING' } },
    } as unknown as StatsDelta
    b.add(leaky)
    const queue = await freshQueue()
    const entry = await queue.enqueue((dropped) => ({
      v: 1,
      batchId: 'batch_privacy',
      sentAt: T0,
      device: DEVICE,
      sampleRate: 1,
      dropped,
      reports: b.drain(),
    }))
    for (const s of SENTINELS) expect(entry.body).not.toContain(s)
    const payload = JSON.parse(entry.body) as unknown
    Batch.parse(payload)
    const allowed = schemaKeys(Batch)
    const seen = new Set<string>()
    collectKeys(payload, [], seen)
    expect([...seen].filter((k) => !allowed.has(k))).toEqual([])
    const gz = await gunzip(await import('../../client/telemetry/transport.ts').then((m) => m.gzip(entry.body)))
    expect(gz).toBe(entry.body)
  })
})

describe('transport', () => {
  it('parses Retry-After (seconds and HTTP-date) against an injected clock', () => {
    expect(parseRetryAfter('10', 1_000)).toBe(11_000)
    expect(parseRetryAfter(new Date(T0 + 90_000).toUTCString(), T0)).toBe(T0 + 90_000)
    expect(parseRetryAfter(new Date(T0 - 90_000).toUTCString(), T0)).toBe(T0)
    expect(parseRetryAfter(null, T0)).toBe(T0 + 60_000)
    expect(parseRetryAfter('999999', T0)).toBe(T0 + BACKOFF_MAX_MS)
  })

  it('backs off from 1 s, doubling to 1 h, jittered by the injected random', async () => {
    expect([1, 2, 3, 4, 12, 13, 40].map((f) => backoffMs(f, () => 1 - 1e-12))).toEqual([
      1_000, 2_000, 4_000, 8_000, 2_048_000, 3_600_000, 3_600_000,
    ])
    const rand = seededRandom(3)
    for (let f = 1; f < 30; f++) {
      const base = Math.min(1000 * 2 ** (f - 1), 3_600_000)
      const d = backoffMs(f, rand)
      expect(d).toBeGreaterThanOrEqual(0.8 * base)
      expect(d).toBeLessThanOrEqual(base)
    }
    // Through the transport: network errors and 5xx push retryAt out, doubling; a 202 resets.
    const clock = { t: T0 }
    const { fetch } = scriptedFetch([answer(500), answer(502), answer(500)])
    const t = createTransport({
      endpoint: 'https://edge.test',
      appKey: 'k',
      fetch,
      now: () => clock.t,
      random: () => 1 - 1e-12,
    })
    const delays: number[] = []
    for (let i = 0; i < 16; i++) {
      const o = await t.send('{}')
      expect(o.kind).toBe('retry')
      delays.push(t.retryAt - clock.t)
      clock.t = t.retryAt
    }
    expect(delays.slice(0, 5)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000])
    expect(delays.at(-1)).toBe(3_600_000)
  })

  it('`online` ends a backoff network failures caused, never a wait the edge asked for', async () => {
    const clock = { t: T0 }
    const { fetch } = scriptedFetch([answer(429, {}, { 'Retry-After': '120' })])
    const t = createTransport({ endpoint: 'https://edge.test', appKey: 'k', fetch, now: () => clock.t })
    expect(await t.send('{}')).toMatchObject({ kind: 'retry', reason: 'rate_limited' })
    t.online()
    expect(t.retryAt).toBe(T0 + 120_000)
    clock.t = t.retryAt
    // The script is exhausted: the next call fails like a lost network.
    expect(await t.send('{}')).toMatchObject({ kind: 'retry', reason: 'network_error' })
    expect(t.retryAt).toBeGreaterThan(clock.t)
    t.online()
    expect(t.retryAt).toBe(0)
  })
})

describe('processor, queue and transport together', () => {
  it('freezes batches once: a retry sends the same bytes, after Retry-After', async () => {
    const clock = { t: T0 + 61_000 }
    const rand = seededRandom(11)
    const { fetch, calls } = scriptedFetch([
      answer(429, { error: { code: 'rate_limited' } }, { 'Retry-After': '10' }),
      answer(503, {}, { 'Retry-After': '30' }),
      answer(202, { accepted: 1, duplicate: false }),
    ])
    const p = processor(await freshQueue(), fetch, clock, async (k) => delta(k, T0, clock.t, rand))
    p.track('k', TARGET, { sampleRate: 1, flushSeconds: 60 })
    await p.flush()
    expect(calls).toHaveLength(1)
    clock.t += 5_000
    await p.send() // still inside Retry-After: nothing goes out
    expect(calls).toHaveLength(1)
    clock.t += 5_000
    await p.send()
    expect(calls).toHaveLength(2)
    clock.t += 30_000
    await p.flush() // the frozen batch goes first, then the one frozen by this flush
    expect(calls).toHaveLength(4)
    expect(calls[0].headers['Content-Encoding']).toBe('gzip')
    expect(calls[1].body).toEqual(calls[0].body)
    expect(calls[2].body).toEqual(calls[0].body)
    expect(calls[3].body).not.toEqual(calls[0].body)
    const batch = Batch.parse(JSON.parse(await gunzip(calls[0].body)))
    expect(batch).toMatchObject({ batchId: 'batch_0001', sampleRate: 1, dropped: {} })
    expect(batch.reports[0].window.start % WINDOW_MS).toBe(0)
    await p.close()
    await p.close()
  })

  it('drops a final 4xx, counts it, and reports the count in the next batch', async () => {
    const clock = { t: T0 + 120_000 }
    const rand = seededRandom(5)
    const { fetch, calls } = scriptedFetch([
      answer(400, { error: { code: 'too_old', message: 'window too old', pointer: '/reports/0/window/start' } }),
      answer(400, { error: { code: 'validation_failed', message: 'bad' } }),
      answer(202, { accepted: 1, duplicate: false }),
    ])
    let next = T0
    const p = processor(await freshQueue(), fetch, clock, async (k) => {
      const d = delta(k, next, clock.t, rand)
      next = clock.t
      return d
    })
    p.track('k', TARGET, { sampleRate: 0.5, flushSeconds: 60 })
    await p.flush() // too_old: dropped for good, not retried
    clock.t += 60_000
    await p.flush() // rejected
    clock.t += 60_000
    await p.flush()
    const bodies = await Promise.all(calls.map((c) => gunzip(c.body).then((s) => Batch.parse(JSON.parse(s)))))
    expect(bodies).toHaveLength(3)
    const first = bodies[0].reports.length
    expect(bodies[1].dropped).toEqual({ too_old: first })
    // The refused batch carried {too_old}: those counts are carried again, not lost with it.
    expect(bodies[2].dropped).toEqual({ too_old: first, rejected: bodies[1].reports.length })
    expect(bodies.every((b) => b.sampleRate === 0.5)).toBe(true)
  })

  it('bounds the queue: the oldest batches are dropped as queue_overflow, carried drops are kept', async () => {
    const queue = await freshQueue(3)
    const rand = seededRandom(21)
    const b = new ReportBuilder()
    b.track('k', TARGET)
    await queue.countDrop('rejected', 2)
    const ids: string[] = []
    for (let i = 0; i < 6; i++) {
      b.add(delta('k', T0 + i * WINDOW_MS, T0 + (i + 1) * WINDOW_MS, rand))
      const e = await queue.enqueue((dropped) =>
        Batch.parse({
          v: 1,
          batchId: `batch_q${i}00`,
          sentAt: T0,
          device: DEVICE,
          sampleRate: 1,
          dropped,
          reports: b.drain(),
        }),
      )
      ids.push(e.batchId)
    }
    const kept = await queue.peek()
    expect(kept.map((e) => e.batchId)).toEqual(ids.slice(3))
    // Nothing is lost: what the kept batches carry plus what is pending accounts for every drop, including
    // the {rejected: 2} carried by the first batch, itself dropped for overflow.
    const total: Record<string, number> = {}
    for (const d of [...kept.map((e) => JSON.parse(e.body).dropped), await queue.pendingDrops()])
      for (const [k, n] of Object.entries(d)) total[k] = (total[k] ?? 0) + (n as number)
    expect(total).toEqual({ rejected: 2, queue_overflow: 3 })
    const e = await queue.enqueue((dropped) => ({
      v: 1,
      batchId: 'batch_next',
      sentAt: T0,
      device: DEVICE,
      sampleRate: 1,
      dropped,
      reports: [],
    }))
    expect(Object.keys(JSON.parse(e.body).dropped)).toContain('queue_overflow')
    expect(await queue.size()).toBe(3)
  })

  it('a network error is retried with the same bytes once the 1 s backoff has passed', async () => {
    const clock = { t: T0 + 61_000 }
    const rand = seededRandom(8)
    const { fetch, calls } = scriptedFetch([])
    const p = processor(await freshQueue(), fetch, clock, async (k) => delta(k, clock.t - 60_000, clock.t, rand))
    p.track('k', TARGET, { sampleRate: 1, flushSeconds: 60 })
    await p.flush()
    clock.t += 60_000
    await p.flush()
    expect(calls).toHaveLength(2) // the first try and the retry after 1 s backoff ran out
    const before = calls.map((c) => c.body)
    expect(before[1]).toEqual(before[0])
  })

  it('on pagehide beacons the last snapshot within 64 KB without asking the worker', async () => {
    const clock = { t: T0 + 61_000 }
    const rand = seededRandom(4)
    const beacons: { url: string; text: Promise<string> }[] = []
    let collects = 0
    const queue = await freshQueue()
    const win = new EventTarget()
    const p = processor(queue, undefined, clock, async (k) => (collects++, delta(k, T0, clock.t, rand)), {
      window: win,
      appKey: 'ef key',
      sendBeacon: (url, data) => (beacons.push({ url, text: (data as Blob).text() }), true),
    })
    p.track('k', TARGET, { sampleRate: 1, flushSeconds: 60 })
    await p.collect()
    expect(collects).toBe(1)
    win.dispatchEvent(new Event('pagehide'))
    expect(collects).toBe(1)
    expect(beacons).toHaveLength(1)
    expect(beacons[0].url).toBe('https://edge.test/v1/telemetry?key=ef%20key')
    const batch = Batch.parse(JSON.parse(await beacons[0].text))
    expect(batch.reports).toHaveLength(1)
    await p.close()
  })
})

describe('window close', () => {
  it('freezes the closed window into the IndexedDB queue without sending, and a later pagehide beacons it from the queue', async () => {
    const clock = { t: T0 + 61_000 }
    const rand = seededRandom(9)
    const beacons: string[] = []
    const sent: string[] = []
    let counted = 0
    const queue = await freshQueue()
    const win = new EventTarget()
    const fetch = async (url: string | URL | Request) => (sent.push(String(url)), new Response('{}', { status: 202 }))
    const collect = async (k: string) => {
      const d = delta(k, T0, clock.t, rand)
      counted += d.inferences
      return d
    }
    const p = processor(queue, fetch as typeof globalThis.fetch, clock, collect, {
      window: win,
      sendBeacon: (_url, data) => (void (data as Blob).text().then((t) => beacons.push(t)), true),
    })
    p.track('k', TARGET, { sampleRate: 1, flushSeconds: 3600 })
    await p.closeWindow()
    // Persisted, not sent: a tab killed now would send it from the next page.
    expect(sent).toEqual([])
    const waiting = await queue.peek(10)
    expect(waiting).toHaveLength(1)
    const frozen = Batch.parse(JSON.parse(waiting[0].body))
    expect(counted).toBeGreaterThan(0)
    expect(frozen.reports.map((r) => r.counts.inferences)).toEqual([counted])
    // The page goes away: the queued batch goes by beacon, the same bytes (the edge dedupes a resend).
    win.dispatchEvent(new Event('pagehide'))
    await new Promise((r) => setTimeout(r, 20))
    expect(beacons).toContain(waiting[0].body)
    expect(
      beacons
        .map((b) => Batch.parse(JSON.parse(b)).reports.reduce((a, r) => a + r.counts.inferences, 0))
        .reduce((a, b) => a + b, 0),
    ).toBe(counted)
    await p.close()
  })
})

/** Every object key the schema can hold (record keys aside): the payload whitelist. */
function schemaKeys(schema: z.ZodType): Set<string> {
  const keys = new Set<string>()
  const walk = (s: unknown): void => {
    const def = (s as { _zod?: { def?: Record<string, unknown> } })._zod?.def
    if (!def) return
    if (def.type === 'object')
      for (const [k, v] of Object.entries(def.shape as Record<string, unknown>)) {
        keys.add(k)
        walk(v)
      }
    for (const k of ['innerType', 'element', 'valueType', 'in', 'out', 'schema']) if (def[k]) walk(def[k])
    for (const o of (def.options as unknown[] | undefined) ?? []) walk(o)
  }
  walk(schema)
  return keys
}

/** Keys of the payload, skipping the values of records keyed by data (feature names, drop reasons, backends). */
function collectKeys(v: unknown, path: string[], out: Set<string>): void {
  if (Array.isArray(v)) return v.forEach((x) => collectKeys(x, path, out))
  if (v === null || typeof v !== 'object') return
  const parent = path.at(-1)
  const isRecord = parent === 'features' || parent === 'outputs' || parent === 'dropped' || parent === 'fallbacks'
  for (const [k, x] of Object.entries(v)) {
    if (isRecord) expect(k).toMatch(isRecordName(parent!))
    else out.add(k)
    collectKeys(x, [...path, isRecord ? '*' : k], out)
  }
}
const isRecordName = (parent: string) =>
  parent === 'features' || parent === 'outputs'
    ? /^(temp_max|wind|weather|label)$/
    : parent === 'fallbacks'
      ? /^(webgpu|webgl|wasm|cpu)$/
      : /^[a-z_]+$/

describe('flushing often while the edge holds sends back', () => {
  /**
   * An edge with the real per-device limit (30 requests a minute, then 429 with Retry-After 60 s) that
   * dedupes on the batch id and adds up the inferences of the reports it accepted.
   */
  function rateLimitedEdge(clock: { t: number }) {
    const seen = new Set<string>()
    const perMinute = new Map<number, number>()
    const stored = { inferences: 0, batches: 0, refused: 0, dropped: {} as Record<string, number> }
    const fetch = async (_url: string | URL | Request, init?: RequestInit) => {
      const minute = Math.floor(clock.t / 60_000)
      const n = (perMinute.get(minute) ?? 0) + 1
      perMinute.set(minute, n)
      if (n > 30 && ++stored.refused)
        return new Response(JSON.stringify({ error: { code: 'rate_limited' } }), {
          status: 429,
          headers: { 'Retry-After': '60' },
        })
      const batch = Batch.parse(JSON.parse(await gunzip(new Uint8Array(await new Response(init?.body).arrayBuffer()))))
      if (!seen.has(batch.batchId)) {
        seen.add(batch.batchId)
        stored.batches++
        for (const r of batch.reports) stored.inferences += r.counts.inferences
        for (const [k, v] of Object.entries(batch.dropped)) stored.dropped[k] = (stored.dropped[k] ?? 0) + v
      }
      return new Response(JSON.stringify({ accepted: batch.reports.length, duplicate: false }), { status: 202 })
    }
    return { fetch: fetch as typeof globalThis.fetch, stored }
  }

  it('a 60 s Retry-After with a flush every second loses no inference to queue overflow', async () => {
    const clock = { t: T0 + 30_000 }
    const rand = seededRandom(1600)
    const edge = rateLimitedEdge(clock)
    const queue = await freshQueue()
    let last = clock.t
    let counted = 0
    let most = 0
    let predicting = true
    const p = processor(queue, edge.fetch, clock, async (k) => {
      const d = predicting
        ? delta(k, last, clock.t, rand)
        : { ...delta(k, last, clock.t, rand), inferences: 0, errors: 0 }
      last = clock.t
      counted += d.inferences
      return d
    })
    p.track('k', TARGET, { sampleRate: 1, flushSeconds: 1 })
    // Five minutes of a page predicting and flushing every second (the minute timer closing windows too).
    for (let s = 0; s < 300; s++) {
      clock.t += 1_000
      if (clock.t % WINDOW_MS < 1_000) await p.closeWindow()
      await p.flush()
      most = Math.max(most, await queue.size())
    }
    // Then the page stops predicting and flushes until its queue is empty.
    predicting = false
    for (let s = 0; s < 600 && (await queue.size()) > 0; s++) {
      clock.t += 1_000
      await p.flush()
    }
    expect(edge.stored.refused).toBeGreaterThan(2)
    expect(await queue.size()).toBe(0)
    expect(await queue.pendingDrops()).toEqual({})
    expect({ inferences: edge.stored.inferences, dropped: edge.stored.dropped }).toEqual({
      inferences: counted,
      dropped: {},
    })
    // While sends are held back, batches are frozen once a minute, not once a flush.
    expect(most).toBeLessThanOrEqual(4)
  })

  it('a tab that never holds the send lock freezes nothing at its flushes during the hold either', async () => {
    const clock = { t: T0 + 30_000 }
    const rand = seededRandom(1601)
    const edge = rateLimitedEdge(clock)
    const queue = await freshQueue()
    // One Web Lock for the origin: the first tab holds it for as long as it sends; the second never gets it.
    let held = false
    const locks = (owner: boolean): LockManagerLike => ({
      async request(_name, _options, callback) {
        if (!owner || held) return callback(null)
        held = true
        try {
          await callback({})
        } finally {
          held = false
        }
      },
    })
    let counted = 0
    let most = 0
    let predicting = true
    const tab = (owner: boolean) => {
      let last = clock.t
      const p = processor(
        queue,
        edge.fetch,
        clock,
        async (k) => {
          const d = delta(k, last, clock.t, rand, [], predicting ? undefined : 0)
          last = clock.t
          counted += d.inferences
          return d
        },
        { locks: locks(owner), tab: owner ? 'a' : 'b' },
      )
      p.track('k', TARGET, { sampleRate: 1, flushSeconds: 1 })
      return p
    }
    const sender = tab(true)
    const other = tab(false)
    let heldSeen = 0
    for (let s = 0; s < 300; s++) {
      clock.t += 1_000
      for (const p of [sender, other]) {
        if (clock.t % WINDOW_MS < 1_000) await p.closeWindow()
        await p.flush()
      }
      if ((await queue.heldUntil()) > clock.t) heldSeen++
      most = Math.max(most, await queue.size())
    }
    predicting = false
    for (let s = 0; s < 600 && (await queue.size()) > 0; s++) {
      clock.t += 1_000
      await other.flush()
      await sender.flush()
    }
    expect(edge.stored.refused).toBeGreaterThan(2)
    expect(heldSeen).toBeGreaterThan(60)
    expect(await queue.size()).toBe(0)
    expect({ inferences: edge.stored.inferences, dropped: edge.stored.dropped }).toEqual({
      inferences: counted,
      dropped: {},
    })
    // Two tabs, each freezing once a minute during a hold: a handful of batches, never the bound.
    expect(most).toBeLessThanOrEqual(8)
    expect(await queue.heldUntil()).toBe(0)
  })
})
