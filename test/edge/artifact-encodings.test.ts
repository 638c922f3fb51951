/**
 * @module
 * Encoded copies of artifacts: stored only when they decode to exactly the artifact's bytes, served to
 * clients that accept the encoding (whole-file requests only), never to others.
 */
import { env } from 'cloudflare:test'
import { beforeEach, describe, expect, it } from 'vitest'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, resetState, sha256, snapshot, upload } from './api.ts'

const rand = seededRandom(5)
/** Compressible bytes: a small alphabet, like most model weights' high bytes. */
const payload = Uint8Array.from({ length: 200_000 }, () => Math.floor(rand() * 16))

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'))
  return new Uint8Array(await new Response(stream).arrayBuffer())
}

const putGzip = (hash: string, bytes: Uint8Array) =>
  api('PUT', `/v1/artifacts/${hash}/encodings/gzip`, {
    raw: bytes,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) },
  })

beforeEach(resetState)

describe('PUT /v1/artifacts/:sha256/encodings/gzip', () => {
  it('stores a gzip copy that decodes to the artifact and serves it to clients that accept gzip', async () => {
    const file = await upload('weights.bin', payload)
    const encoded = await gzip(payload)
    const res = await putGzip(file.sha256, encoded)
    expect(res.status).toBe(201)
    expect(await bodyOf(res)).toEqual({ sha256: file.sha256, encoding: 'gzip', size: encoded.length, created: true })
    expect((await putGzip(file.sha256, encoded)).status).toBe(200)

    const gz = await api('GET', `/v1/artifacts/${file.sha256}`, { headers: { 'Accept-Encoding': 'gzip, br' } })
    expect(gz.status).toBe(200)
    expect(gz.headers.get('Content-Encoding')).toBe('gzip')
    expect(gz.headers.get('Vary')).toContain('Accept-Encoding')
    expect(await sha256(new Uint8Array(await gz.arrayBuffer()))).toBe(file.sha256)

    const plain = await api('GET', `/v1/artifacts/${file.sha256}`, { headers: { 'Accept-Encoding': 'identity' } })
    expect(plain.headers.get('Content-Encoding')).toBeNull()
    expect(Number(plain.headers.get('Content-Length'))).toBe(payload.length)
    expect(await sha256(new Uint8Array(await plain.arrayBuffer()))).toBe(file.sha256)
    const refused = await api('GET', `/v1/artifacts/${file.sha256}`, { headers: { 'Accept-Encoding': 'gzip;q=0' } })
    expect(refused.headers.get('Content-Encoding')).toBeNull()
    await refused.arrayBuffer()

    // A range is always cut from the artifact's own bytes.
    const range = await api('GET', `/v1/artifacts/${file.sha256}`, {
      headers: { 'Accept-Encoding': 'gzip', Range: 'bytes=100-199' },
    })
    expect(range.status).toBe(206)
    expect(range.headers.get('Content-Encoding')).toBeNull()
    expect(new Uint8Array(await range.arrayBuffer())).toEqual(payload.slice(100, 200))
  })

  it('refuses a copy that decodes to other bytes, or does not decode, and stores nothing', async () => {
    const file = await upload('weights.bin', payload)
    const before = await snapshot()
    const other = payload.slice()
    other[5] ^= 1
    const wrong = await putGzip(file.sha256, await gzip(other))
    expect(wrong.status).toBe(400)
    expect((await bodyOf(wrong)).error.code).toBe('hash_mismatch')
    const garbage = await putGzip(file.sha256, payload.slice(0, 5000))
    expect(garbage.status).toBe(400)
    expect((await bodyOf(garbage)).error.code).toBe('hash_mismatch')
    const cut = await gzip(payload)
    const short = await putGzip(file.sha256, cut.slice(0, cut.length - 100))
    expect((await bodyOf(short)).error.code).toBe('hash_mismatch')
    expect(await snapshot()).toBe(before)
    expect((await env.ARTIFACTS.list({ prefix: 'pending/' })).objects).toEqual([])
    const served = await api('GET', `/v1/artifacts/${file.sha256}`, { headers: { 'Accept-Encoding': 'gzip' } })
    expect(served.headers.get('Content-Encoding')).toBeNull()
    await served.arrayBuffer()
  })

  it('refuses other bytes sent again under a stored hash or encoding, and stops a gzip bomb at the artifact size', async () => {
    const file = await upload('weights.bin', payload)
    const encoded = await gzip(payload)
    expect((await putGzip(file.sha256, encoded)).status).toBe(201)
    const before = await snapshot()
    const other = payload.slice()
    other[7] ^= 1
    const plain = await api('PUT', `/v1/artifacts/${file.sha256}`, {
      raw: other,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(other.length) },
    })
    expect(plain.status).toBe(400)
    expect((await bodyOf(plain)).error.code).toBe('hash_mismatch')
    const again = await api('PUT', `/v1/artifacts/${file.sha256}`, {
      raw: payload,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(payload.length) },
    })
    expect(again.status).toBe(200)
    expect(await bodyOf(again)).toMatchObject({ sha256: file.sha256, created: false })
    const wrongCopy = await putGzip(file.sha256, await gzip(other))
    expect(wrongCopy.status).toBe(400)
    expect((await bodyOf(wrongCopy)).error.code).toBe('hash_mismatch')
    // 64 MB of zeros in about 64 KB of gzip: refused once it passes the artifact's 200,000 bytes.
    const bomb = await gzip(new Uint8Array(64 * 1024 * 1024))
    expect(bomb.length).toBeLessThan(100_000)
    const exploded = await putGzip(file.sha256, bomb)
    expect(exploded.status).toBe(400)
    expect((await bodyOf(exploded)).error.code).toBe('hash_mismatch')
    expect(await snapshot()).toBe(before)
  })

  it('needs the artifact first, a Content-Length, and registry:write', async () => {
    const encoded = await gzip(payload)
    const missing = await putGzip('a'.repeat(64), encoded)
    expect(missing.status).toBe(400)
    expect((await bodyOf(missing)).error.code).toBe('artifact_missing')
    const file = await upload('weights.bin', payload)
    const noLength = await api('PUT', `/v1/artifacts/${file.sha256}/encodings/gzip`, {
      raw: new ReadableStream({ start: (c) => (c.enqueue(encoded), c.close()) }),
      headers: { 'Content-Type': 'application/octet-stream' },
    })
    expect(noLength.status).toBe(411)
    const br = await api('PUT', `/v1/artifacts/${file.sha256}/encodings/br`, {
      raw: encoded,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(encoded.length) },
    })
    expect(br.status).toBe(400)
    expect((await bodyOf(br)).error.code).toBe('validation_failed')
  })
})
