// The unattended retrainer's trigger intake: the webhook receiver checks signatures exactly as the
// edge signs them (stale, forged, replayed deliveries refused), and the polling cursor survives restarts.
import { getEventListeners, once } from 'node:events'
import { createServer } from 'node:http'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { signWebhook } from '../../core/webhook/signature.ts'
import { readCursor, writeCursor } from '../../cli/retrain/event-cursor.ts'
import { checkDelivery, SeenEvents } from '../../cli/retrain/trigger-receiver.ts'
import { RetrainerConfig, resolveSecret } from '../../cli/retrain/watch-config.ts'
import { listenForTriggers, pollTriggers } from '../../cli/retrain/watch.ts'
import type { Io } from '../../cli/io.ts'

const nullIo = { out: () => {}, err: () => {} } as unknown as Io
const SECRET = 'whsec_test_0123456789'
const NOW = 1_780_000_000_000
const body = JSON.stringify({ id: 'evt_abc', type: 'retrain.requested', model: 'weather', at: NOW - 1000, details: {} })

describe('the webhook receiver', () => {
  it('accepts a delivery signed as the edge signs it, once', async () => {
    const seen = new SeenEvents()
    const header = await signWebhook(SECRET, NOW - 2000, body)
    const first = await checkDelivery(SECRET, header, body, seen, NOW)
    expect(first.reason).toBe('accepted')
    expect(first.value?.id).toBe('evt_abc')
    // The same event again, even freshly signed (the edge retries), runs nothing twice.
    const again = await checkDelivery(SECRET, await signWebhook(SECRET, NOW, body), body, seen, NOW)
    expect(again).toEqual({ value: null, reason: 'replay' })
  })

  it('refuses a missing header, a wrong secret, a changed body and stale or future timestamps', async () => {
    const seen = new SeenEvents()
    const header = await signWebhook(SECRET, NOW, body)
    expect((await checkDelivery(SECRET, null, body, seen, NOW)).reason).toBe('missing_signature')
    expect((await checkDelivery('other-secret', header, body, seen, NOW)).reason).toBe('bad_signature')
    expect((await checkDelivery(SECRET, header, body.replace('weather', 'weathe2'), seen, NOW)).reason).toBe(
      'bad_signature',
    )
    const old = await signWebhook(SECRET, NOW - 6 * 60_000, body)
    expect((await checkDelivery(SECRET, old, body, seen, NOW)).reason).toBe('stale_timestamp')
    const future = await signWebhook(SECRET, NOW + 6 * 60_000, body)
    expect((await checkDelivery(SECRET, future, body, seen, NOW)).reason).toBe('stale_timestamp')
    expect((await checkDelivery(SECRET, 't=abc,v1=00', body, seen, NOW)).reason).toBe('stale_timestamp')
    // None of the refusals marked the event as seen: the genuine delivery still goes through.
    expect((await checkDelivery(SECRET, header, body, seen, NOW)).reason).toBe('accepted')
  })

  it('refuses a validly signed body that is not an event', async () => {
    const junk = '{"hello":1}'
    const verdict = await checkDelivery(SECRET, await signWebhook(SECRET, NOW, junk), junk, new SeenEvents(), NOW)
    expect(verdict.reason).toBe('bad_body')
  })

  it('forgets the oldest ids beyond its capacity', () => {
    const seen = new SeenEvents(2)
    seen.add('a')
    seen.add('b')
    seen.add('c')
    expect([seen.has('a'), seen.has('b'), seen.has('c')]).toEqual([false, true, true])
  })
})

describe('the polling cursor', () => {
  it('starts empty, persists atomically and reads back', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cursor-')), 'cursor')
    expect(await readCursor(file)).toBeUndefined()
    await writeCursor(file, '42')
    expect(await readCursor(file)).toBe('42')
    expect(readFileSync(file, 'utf8')).toBe('42\n')
    await writeCursor(file, '43')
    expect(await readCursor(file)).toBe('43')
    // A folder that does not exist yet (a fresh state folder) is created, not a crash of the loop.
    const nested = join(mkdtempSync(join(tmpdir(), 'cursor-')), 'state', 'retrainer', 'cursor')
    await writeCursor(nested, '7')
    expect(await readCursor(nested)).toBe('7')
  })

  it('refuses a file that is not a cursor with parse_error', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cursor-')), 'cursor')
    writeFileSync(file, 'not a cursor at all!\n')
    await expect(readCursor(file)).rejects.toMatchObject({ code: 'parse_error' })
  })
})

describe('retrainer.json', () => {
  it('fills defaults, parses gates and refuses unknown keys', () => {
    const c = RetrainerConfig.parse({
      models: { weather: { data: { path: 'w.csv' }, label: 'weather', gates: ['accuracy:min=0.7'] } },
    })
    expect(c.models.weather?.family).toBe('lda')
    expect(c.models.weather?.gates).toHaveLength(1)
    expect(c.webhook).toBeUndefined()
    expect(
      RetrainerConfig.safeParse({ models: { w: { data: { path: 'w.csv' }, label: 'x', gates: ['nope'] } } }).success,
    ).toBe(false)
    expect(RetrainerConfig.safeParse({ models: {}, extra: 1 }).success).toBe(false)
  })

  it('reads the webhook secret from the environment with env:NAME', () => {
    expect(resolveSecret('env:HOOK', { HOOK: 's3cret' })).toBe('s3cret')
    expect(() => resolveSecret('env:HOOK', {})).toThrow(/HOOK/)
    expect(resolveSecret('plain')).toBe('plain')
  })
})

describe('the webhook listener over real HTTP', () => {
  it('answers 202 once, 200 to a replay, 401 to a forgery, and hands each event over once', async () => {
    const config = RetrainerConfig.parse({
      webhook: { port: 0, secret: SECRET },
      models: { weather: { data: { path: 'w.csv' }, label: 'weather' } },
    })
    const handled: string[] = []
    const server = listenForTriggers(
      config,
      async (e) => void handled.push(e.id),
      () => NOW,
    )
    await once(server, 'listening')
    const { port } = server.address() as AddressInfo
    const post = async (header: string) =>
      (
        await fetch(`http://127.0.0.1:${port}/hooks/edgefleet`, {
          method: 'POST',
          headers: { 'X-Edgefleet-Signature': header, 'content-type': 'application/json' },
          body,
        })
      ).status
    try {
      expect(await post(await signWebhook('wrong', NOW, body))).toBe(401)
      expect(await post(await signWebhook(SECRET, NOW, body))).toBe(202)
      expect(await post(await signWebhook(SECRET, NOW, body))).toBe(200)
      await new Promise((r) => setImmediate(r))
      expect(handled).toEqual(['evt_abc'])
    } finally {
      server.close()
    }
  })
})

describe('polling GET /v1/events with a persisted cursor', () => {
  // The edge at the network boundary: serves retrain.requested events after the `after` cursor.
  const events = [1, 2, 3].map((seq) => ({
    id: `evt_poll_${seq}`,
    seq,
    type: 'retrain.requested',
    model: 'weather',
    actor: 'policy',
    at: NOW + seq,
    details: {},
  }))
  async function fakeEdge(available: () => number) {
    const queries: string[] = []
    let requests = 0
    const server = createServer((req, res) => {
      // The first request finds the edge down (the connection drops): the loop retries.
      if (requests++ === 0) return void req.socket.destroy()
      const url = new URL(req.url ?? '/', 'http://x')
      queries.push(url.search)
      const after = Number(url.searchParams.get('after') ?? 0)
      const page = events.slice(0, available()).filter((e) => e.seq > after)
      const last = page.at(-1)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ events: page, next: last ? String(last.seq) : null, hasMore: false }))
    }).listen(0, '127.0.0.1')
    await once(server, 'listening')
    return { server, queries, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
  }

  it('hands each event over once, moves the cursor after each, and resumes from it after a restart', async () => {
    let available = 2
    const edge = await fakeEdge(() => available)
    const cursorFile = join(mkdtempSync(join(tmpdir(), 'poll-')), 'cursor')
    const config = RetrainerConfig.parse({
      cursorFile,
      pollSeconds: 0.01,
      models: { weather: { data: { path: 'w.csv' }, label: 'weather' } },
    })
    const flags = { url: edge.url, token: 'tok' }
    const handled: string[] = []
    try {
      const first = new AbortController()
      await pollTriggers(nullIo, flags, config, first.signal, async (e) => {
        handled.push(e.id)
        if (handled.length === 2) first.abort()
      })
      expect(handled).toEqual(['evt_poll_1', 'evt_poll_2'])
      expect(await readCursor(cursorFile)).toBe('2')
      expect(edge.queries[0]).toContain('type=retrain.requested')

      // A restart: a new loop reads the cursor and sees only the event that arrived meanwhile.
      available = 3
      const second = new AbortController()
      await pollTriggers(nullIo, flags, config, second.signal, async (e) => {
        handled.push(e.id)
        second.abort()
      })
      expect(handled).toEqual(['evt_poll_1', 'evt_poll_2', 'evt_poll_3'])
      expect(await readCursor(cursorFile)).toBe('3')
      expect(edge.queries.at(-1)).toContain('after=2')
    } finally {
      edge.server.close()
    }
  })

  it('waits between polls without piling up abort listeners on a long-running loop', async () => {
    const edge = await fakeEdge(() => 0)
    const config = RetrainerConfig.parse({
      cursorFile: join(mkdtempSync(join(tmpdir(), 'poll-')), 'cursor'),
      pollSeconds: 0.001,
      models: { weather: { data: { path: 'w.csv' }, label: 'weather' } },
    })
    const stop = new AbortController()
    const listeners: number[] = []
    try {
      const loop = pollTriggers(nullIo, { url: edge.url, token: 'tok' }, config, stop.signal)
      while (edge.queries.length < 30) {
        listeners.push(getEventListeners(stop.signal, 'abort').length)
        await new Promise((r) => setTimeout(r, 2))
      }
      stop.abort()
      await loop
    } finally {
      edge.server.close()
    }
    expect(Math.max(...listeners)).toBeLessThanOrEqual(1)
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0)
  })
})
