import { createExecutionContext, env, listDurableObjectIds, waitOnExecutionContext } from 'cloudflare:test'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import worker from '../../edge/index.ts'
import { ADMIN, api, bodyOf, createModel, resetState, upload } from './api.ts'
import { appKey, makeBatch } from './telemetry-fixtures.ts'

beforeEach(async () => {
  await resetState()
})

describe('a 404 for a model that does not exist', () => {
  it('leaves no ModelControl with storage behind, whichever route answered it', async () => {
    const key = await appKey()
    const ids = async () => (await listDurableObjectIds(env.MODEL_CONTROL)).map((id) => id.toString()).sort()
    const before = await ids()
    const ghost = `ghost-${crypto.randomUUID().slice(0, 8)}`
    const calls: [string, string, Record<string, unknown>][] = [
      ['GET', `/v1/assign/${ghost}?device=dev_0123456789abcdef`, { token: null, headers: { 'X-Edgefleet-Key': key } }],
      ['GET', `/v1/models/${ghost}`, {}],
      ['GET', `/v1/models/${ghost}/policy`, {}],
      ['GET', `/v1/models/${ghost}/rollouts/current`, {}],
      ['GET', `/v1/models/${ghost}/rollouts/ro_0123456789abcdef`, {}],
      ['POST', `/v1/models/${ghost}/rollouts/ro_0123456789abcdef/pause`, {}],
      ['GET', `/v1/models/${ghost}/telemetry`, {}],
    ]
    for (const [method, path, opts] of calls) {
      const res = await api(method, path, opts)
      expect(res.status, `${method} ${path}`).toBe(404)
      expect((await bodyOf(res)).error.code).toBe('not_found')
    }
    expect(await ids()).toEqual(before)
  })
})

describe('credentials', () => {
  it('takes API and admin tokens only from Authorization; X-Edgefleet-Key and ?key= carry app keys alone', async () => {
    const reader = (
      await bodyOf(await api('POST', '/v1/tokens', { body: { name: 'reader', scopes: ['registry:read'] } }))
    ).token
    const key = await appKey()
    const viaHeader = (secret: string) =>
      api('GET', '/v1/models', { token: null, headers: { 'X-Edgefleet-Key': secret } })
    const viaQuery = (secret: string) => api('GET', `/v1/models?key=${encodeURIComponent(secret)}`, { token: null })
    for (const secret of [ADMIN, reader]) {
      for (const res of [await viaHeader(secret), await viaQuery(secret)]) {
        expect(res.status).toBe(401)
        expect((await bodyOf(res)).error).toMatchObject({ code: 'unauthorized' })
      }
      expect((await api('GET', '/v1/models', { token: secret })).status).toBe(200)
    }
    // An app key is still refused on an admin route (403), and accepted where devices go.
    expect((await viaHeader(key)).status).toBe(403)
    const events = await api('GET', `/v1/events?key=${key}`, { token: null })
    expect(events.status).toBe(403)
  })

  it('records lastUsedAt only for requests the token was let in on', async () => {
    const created = await bodyOf(await api('POST', '/v1/tokens', { body: { name: 'ci', scopes: ['telemetry:read'] } }))
    const lastUsed = async () =>
      (await bodyOf(await api('GET', '/v1/tokens'))).tokens.find((t: { id: string }) => t.id === created.id).lastUsedAt
    expect(
      (await api('POST', '/v1/models', { token: created.token, body: { name: 'm', format: 'onnx' } })).status,
    ).toBe(403)
    expect((await api('GET', `/v1/events?key=${created.token}`, { token: null })).status).toBe(401)
    expect(await lastUsed()).toBeNull()
    expect((await api('GET', '/v1/events', { token: created.token })).status).toBe(200)
    await vi.waitFor(async () => expect(await lastUsed()).toEqual(expect.any(Number)))
  })
})

describe('errors never echo a request back', () => {
  it('names an unknown JSON key cut to 64 characters, however long it was', async () => {
    const long = 'k'.repeat(200_000)
    const res = await api('POST', '/v1/models', { body: { name: 'echo', format: 'onnx', [long]: 1, other: 2 } })
    expect(res.status).toBe(400)
    const text = await res.text()
    expect(text.length).toBeLessThan(1_000)
    const { error } = JSON.parse(text)
    expect(error.code).toBe('validation_failed')
    expect(error.message).toContain(`"${'k'.repeat(64)}…"`)
    expect(error.message).toContain('"other"')
    expect(error.pointer).toBe('')
  })

  it('cuts record keys in the pointer and the message alike', async () => {
    const key = await appKey()
    const res = await api('POST', '/v1/telemetry', {
      token: null,
      headers: { 'X-Edgefleet-Key': key },
      body: { ...makeBatch('dev_0123456789abcdef', []), dropped: { ['r'.repeat(5_000)]: 1 } },
    })
    expect(res.status).toBe(400)
    const text = await res.text()
    expect(text.length).toBeLessThan(1_000)
    const { error } = JSON.parse(text)
    expect(error.pointer).toBe(`/dropped/${'r'.repeat(64)}…`)
  })
})

describe('artifacts', () => {
  it('answers If-None-Match: * with 304 when the bytes exist, and 404 when they do not', async () => {
    const file = await upload('m.onnx', new Uint8Array([5, 6, 7]))
    const get = (sha: string, inm: string) => api('GET', `/v1/artifacts/${sha}`, { headers: { 'If-None-Match': inm } })
    const hit = await get(file.sha256, '*')
    expect(hit.status).toBe(304)
    expect(hit.headers.get('ETag')).toBe(`"${file.sha256}"`)
    expect((await get(file.sha256, '"other", *')).status).toBe(304)
    expect((await get(file.sha256, '"other"')).status).toBe(200)
    expect((await get('d'.repeat(64), '*')).status).toBe(404)
  })
})

describe('integer parameters', () => {
  it('takes versions, limits and times only as plain decimal digits', async () => {
    await createModel('ints')
    const file = await upload('m.onnx', new Uint8Array([8, 9]))
    expect((await api('POST', '/v1/models/ints/versions', { body: { files: [file] } })).status).toBe(201)
    expect((await api('GET', '/v1/models/ints/versions/1')).status).toBe(200)
    expect((await api('GET', '/v1/events?limit=5')).status).toBe(200)
    expect((await api('GET', '/v1/models/ints/telemetry?version=1')).status).toBe(200)
    for (const bad of ['0x1', '+1', '01', '1e2', '1.0', ' 1', '-1', '0']) {
      const q = encodeURIComponent(bad)
      for (const path of [
        `/v1/models/ints/versions/${q}`,
        `/v1/events?limit=${q}`,
        `/v1/models/ints/telemetry?version=${q}`,
        `/v1/events?after=${bad === '0' ? '00' : q}`,
      ]) {
        const res = await api('GET', path)
        expect(res.status, `${path}`).toBe(400)
        expect((await bodyOf(res)).error.code).toBe('validation_failed')
      }
    }
  })
})

describe('aliases under concurrency', () => {
  it('records every real move once, never a move onto the same version, and answers the previous version it replaced', async () => {
    await createModel('race')
    const file = await upload('m.onnx', new Uint8Array([4, 2]))
    for (let i = 0; i < 3; i++)
      expect((await api('POST', '/v1/models/race/versions', { body: { files: [file] } })).status).toBe(201)
    const targets = [2, 2, 3, 1, 3, 3, 2, 1, 1, 2, 3, 2]
    const answers = await Promise.all(
      targets.map(async (version) => {
        const res = await api('PUT', '/v1/models/race/aliases/production', { body: { version } })
        expect(res.status).toBe(200)
        return bodyOf(res)
      }),
    )
    const { events } = await bodyOf(await api('GET', '/v1/events?model=race&type=alias.moved&limit=100'))
    const moves: (number | null)[][] = events.map((e: { details: { from?: number; to: number } }) => [
      e.details.from ?? null,
      e.details.to,
    ])
    for (const [from, to] of moves) expect(from).not.toBe(to)
    // The events chain: each move starts where the one before it ended.
    moves.forEach(([from], i) => expect(from).toBe(i === 0 ? null : moves[i - 1][1]))
    // Each answer's `previous` is a state the alias really held, and the real moves are exactly the events.
    const real = answers.filter((a) => a.previous !== a.version).map((a) => [a.previous, a.version])
    expect(real.sort()).toEqual([...moves].sort())
    const final = (await bodyOf(await api('GET', '/v1/models/race'))).aliases.production
    expect(final).toBe(moves[moves.length - 1][1])
  })
})

describe('JSON body limit', () => {
  it('refuses a chunked body over 1 MB with 413 and cancels it instead of reading on', async () => {
    let pulled = 0
    let cancelled = false
    const chunk = new TextEncoder().encode(`{"pad":"${'x'.repeat(64 * 1024)}`)
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += chunk.byteLength
        controller.enqueue(chunk)
      },
      cancel() {
        cancelled = true
      },
    })
    // The Worker's own fetch in this isolate, so the stream's cancel() is observable.
    const ctx = createExecutionContext()
    const res = await worker.fetch(
      new Request('http://edge.test/v1/models', {
        method: 'POST',
        body: endless,
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ADMIN}` },
      }),
      env,
      ctx,
    )
    await waitOnExecutionContext(ctx)
    expect(res.status).toBe(413)
    expect((await bodyOf(res)).error.code).toBe('too_large')
    expect(cancelled).toBe(true)
    expect(pulled).toBeLessThan(1024 * 1024 + 2 * chunk.byteLength)
  })
})
