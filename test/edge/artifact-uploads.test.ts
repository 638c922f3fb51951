/**
 * @module
 * Multipart artifact uploads in workerd (Miniflare's R2, which like R2 refuses parts under 5 MiB but
 * the last): resumable, idempotent, and nothing stored under a hash the assembled bytes do not have.
 */
import { env } from 'cloudflare:test'
import { beforeEach, describe, expect, it } from 'vitest'
import { MIN_PART_BYTES } from '../../core/formats/artifact-uploads.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, resetState, sha256 } from './api.ts'

const rand = seededRandom(15)
const PART = MIN_PART_BYTES
/** Two full parts and a short last one. */
const payload = new Uint8Array(2 * PART + 123_457)
const view = new DataView(payload.buffer)
for (let i = 0; i + 4 <= payload.length; i += 4) view.setUint32(i, Math.floor(rand() * 2 ** 32))

const create = (hash: string, body: unknown) => api('POST', `/v1/artifacts/${hash}/uploads`, { body })
const putPart = (hash: string, id: string, n: number, bytes: Uint8Array) =>
  api('PUT', `/v1/artifacts/${hash}/uploads/${encodeURIComponent(id)}/parts/${n}`, {
    raw: bytes,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) },
  })
const complete = (hash: string, id: string) =>
  api('POST', `/v1/artifacts/${hash}/uploads/${encodeURIComponent(id)}/complete`)
const part = (bytes: Uint8Array, n: number) => bytes.subarray((n - 1) * PART, Math.min(n * PART, bytes.length))

async function uploadKeys(): Promise<string[]> {
  return (await env.ARTIFACTS.list({ prefix: 'uploads/' })).objects.map((o) => o.key)
}

beforeEach(resetState)

// Each test moves about 10 MB through workerd's R2, which takes seconds on a shared machine.
describe('multipart uploads of large artifacts', { timeout: 60_000 }, () => {
  it('stores the assembled bytes under their hash, served whole and by range like any artifact', async () => {
    const hash = await sha256(payload)
    const started = await create(hash, { size: payload.length, partBytes: PART })
    expect(started.status).toBe(201)
    const upload = await bodyOf(started)
    expect(upload).toMatchObject({ sha256: hash, size: payload.length, partBytes: PART, partCount: 3, parts: [] })
    // Parts may arrive in any order.
    for (const n of [3, 1, 2]) expect((await putPart(hash, upload.uploadId, n, part(payload, n))).status).toBe(200)
    const done = await complete(hash, upload.uploadId)
    expect(done.status).toBe(201)
    expect(await bodyOf(done)).toEqual({ sha256: hash, size: payload.length, created: true })

    const whole = await api('GET', `/v1/artifacts/${hash}`)
    // Compared by hash: a failing byte-by-byte diff of megabytes would drown the report.
    expect(await sha256(new Uint8Array(await whole.arrayBuffer()))).toBe(hash)
    const range = await api('GET', `/v1/artifacts/${hash}`, { headers: { Range: `bytes=${PART - 2}-${PART + 1}` } })
    expect(range.status).toBe(206)
    expect([...new Uint8Array(await range.arrayBuffer())]).toEqual([...payload.subarray(PART - 2, PART + 2)])
    // Nothing of the upload is left behind; the upload is gone.
    expect(await uploadKeys()).toEqual([])
    const again = await complete(hash, upload.uploadId)
    expect(again.status).toBe(404)
    expect((await bodyOf(again)).error.code).toBe('not_found')
  })

  it('a re-run resumes the upload in progress: the edge lists the parts it holds', async () => {
    const hash = await sha256(payload)
    const first = await bodyOf(await create(hash, { size: payload.length, partBytes: PART }))
    await putPart(hash, first.uploadId, 1, part(payload, 1))
    const resumed = await create(hash, { size: payload.length, partBytes: PART })
    expect(resumed.status).toBe(200)
    const upload = await bodyOf(resumed)
    expect(upload.uploadId).toBe(first.uploadId)
    expect(upload.parts).toEqual([{ partNumber: 1, size: PART }])
    // Completing with a part missing says which, and keeps the upload.
    const early = await complete(hash, upload.uploadId)
    expect(early.status).toBe(409)
    expect((await bodyOf(early)).error.message).toContain('2, 3')
    // A part sent twice replaces the first copy.
    await putPart(hash, upload.uploadId, 2, part(payload, 2))
    await putPart(hash, upload.uploadId, 2, part(payload, 2))
    await putPart(hash, upload.uploadId, 3, part(payload, 3))
    expect((await complete(hash, upload.uploadId)).status).toBe(201)
    // Once stored, starting an upload of the same bytes says so and starts nothing.
    const stored = await bodyOf(await create(hash, { size: payload.length, partBytes: PART }))
    expect(stored.stored).toBe(true)
    expect(await uploadKeys()).toEqual([])
  })

  it('refuses parts of the wrong size or number, and sizes R2 cannot assemble, changing nothing', async () => {
    const hash = await sha256(payload)
    const small = await create(hash, { size: payload.length, partBytes: PART - 1 })
    expect(small.status).toBe(400)
    expect((await bodyOf(small)).error.code).toBe('validation_failed')
    const upload = await bodyOf(await create(hash, { size: payload.length, partBytes: PART }))
    const short = await putPart(hash, upload.uploadId, 1, part(payload, 1).subarray(1))
    expect(short.status).toBe(400)
    expect((await bodyOf(short)).error.message).toContain(`${PART} bytes`)
    const beyond = await putPart(hash, upload.uploadId, 4, new Uint8Array(10))
    expect(beyond.status).toBe(400)
    const unknown = await putPart(hash, 'no-such-upload', 1, part(payload, 1))
    expect(unknown.status).toBe(404)
    const other = await create(hash, { size: payload.length + 1, partBytes: PART })
    expect(other.status).toBe(409)
    expect(await bodyOf(await api('GET', `/v1/artifacts/${hash}`))).toMatchObject({ error: { code: 'not_found' } })
  })

  it('aborts an upload whose assembled bytes do not hash to the name: nothing is stored', async () => {
    const hash = await sha256(payload)
    const upload = await bodyOf(await create(hash, { size: payload.length, partBytes: PART }))
    const tampered = part(payload, 2).slice()
    tampered[7] ^= 1
    await putPart(hash, upload.uploadId, 1, part(payload, 1))
    await putPart(hash, upload.uploadId, 2, tampered)
    await putPart(hash, upload.uploadId, 3, part(payload, 3))
    const res = await complete(hash, upload.uploadId)
    expect(res.status).toBe(400)
    expect((await bodyOf(res)).error.code).toBe('hash_mismatch')
    expect(await env.ARTIFACTS.head(`artifacts/${hash}`)).toBeNull()
    expect(await uploadKeys()).toEqual([])
    // The upload is gone: a new one starts from scratch.
    expect((await create(hash, { size: payload.length, partBytes: PART })).status).toBe(201)
  })

  it('abort drops the parts; aborting again is not_found and changes nothing', async () => {
    const hash = await sha256(payload)
    const upload = await bodyOf(await create(hash, { size: payload.length, partBytes: PART }))
    await putPart(hash, upload.uploadId, 1, part(payload, 1))
    const path = `/v1/artifacts/${hash}/uploads/${encodeURIComponent(upload.uploadId)}`
    expect((await api('DELETE', path)).status).toBe(204)
    expect((await api('DELETE', path)).status).toBe(404)
    expect(await uploadKeys()).toEqual([])
    expect((await complete(hash, upload.uploadId)).status).toBe(404)
  })

  it('needs registry:write', async () => {
    const hash = await sha256(payload)
    const res = await api('POST', `/v1/artifacts/${hash}/uploads`, {
      token: null,
      body: { size: payload.length, partBytes: PART },
    })
    expect(res.status).toBe(401)
  })
})
