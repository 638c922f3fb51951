/**
 * @module
 * Large downloads resume in real Chromium with real IndexedDB: a connection that breaks off mid-file is
 * retried with a Range request from the last byte kept, a reload continues from the pieces stored, bytes
 * already received are never downloaded again, and the whole file is still verified by SHA-256 (corrupt
 * pieces are refused and discarded). The server is a fetch function honouring Range, the network's edge.
 */
import { describe, expect, test } from 'vitest'
import { openDatabase } from '../../client/db.ts'
import { downloadVerified, PIECE_BYTES, RESUMABLE_MIN_BYTES, sha256Hex } from '../../client/download.ts'
import { PartialDownloads } from '../../client/partials.ts'
import { seededRandom } from '../../scripts/lib/random.ts'

const SIZE = RESUMABLE_MIN_BYTES + 2 * PIECE_BYTES + 12_345
const URL_ = 'https://edge.test/v1/artifacts/big'

function payload(seed: number): Uint8Array {
  const rand = seededRandom(seed)
  const bytes = new Uint8Array(SIZE)
  for (let i = 0; i < SIZE; i++) bytes[i] = Math.floor(rand() * 256)
  return bytes
}

/** A server for one file: honours `Range: bytes=N-` (unless told not to), can break a response off after `breakAfter` bytes. */
function server(bytes: Uint8Array, plan: { breakAfter?: number[]; ignoreRange?: boolean } = {}) {
  const requests: { range: string | null; served: number }[] = []
  const fetch = (async (_url: string | URL | Request, init?: RequestInit) => {
    const range = new Headers(init?.headers).get('Range')
    const start = range && !plan.ignoreRange ? Number(/^bytes=(\d+)-$/.exec(range)![1]) : 0
    const breakAfter = plan.breakAfter?.shift()
    const request = { range, served: 0 }
    requests.push(request)
    let pos = start
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (breakAfter !== undefined && request.served >= breakAfter) {
          controller.error(new TypeError('network connection was lost'))
          return
        }
        const n = Math.min(
          64 * 1024,
          bytes.length - pos,
          breakAfter === undefined ? Infinity : breakAfter - request.served,
        )
        if (n <= 0) return controller.close()
        controller.enqueue(bytes.slice(pos, pos + n))
        pos += n
        request.served += n
      },
    })
    const headers: Record<string, string> = { 'Content-Length': String(bytes.length - start) }
    if (start > 0) headers['Content-Range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`
    return new Response(body, { status: start > 0 ? 206 : 200, headers })
  }) as typeof globalThis.fetch
  return { fetch, requests, served: () => requests.reduce((a, r) => a + r.served, 0) }
}

const noWait = async () => undefined

describe('resumable downloads', { timeout: 60_000 }, () => {
  test('a connection broken mid-file is retried from the last byte kept, not from the start', async () => {
    const bytes = payload(1)
    const expected = { sha256: await sha256Hex(bytes), size: SIZE }
    const edge = server(bytes, { breakAfter: [3 * PIECE_BYTES + 1000, 2 * PIECE_BYTES] })
    const partials = new PartialDownloads(await openDatabase(`resume-retry-${Date.now()}`))
    let progress = 0
    const got = await downloadVerified(URL_, expected, {
      fetch: edge.fetch,
      partials,
      sleep: noWait,
      onBytes: (n) => (progress += n),
    })
    expect(await sha256Hex(got)).toBe(expected.sha256)
    expect(edge.requests.map((r) => r.range)).toEqual([
      null,
      `bytes=${3 * PIECE_BYTES + 1000}-`,
      `bytes=${5 * PIECE_BYTES + 1000}-`,
    ])
    expect(edge.served()).toBe(SIZE)
    expect(progress).toBe(SIZE)
    expect((await partials.received(expected.sha256)).bytes).toBe(0)
  })

  test('after a reload the download continues from the pieces kept in IndexedDB', async () => {
    const bytes = payload(2)
    const expected = { sha256: await sha256Hex(bytes), size: SIZE }
    const dbName = `resume-reload-${Date.now()}`
    const edge = server(bytes, { breakAfter: [5 * PIECE_BYTES + 77] })
    const before = new PartialDownloads(await openDatabase(dbName))
    await expect(
      downloadVerified(URL_, expected, { fetch: edge.fetch, partials: before, retries: 0 }),
    ).rejects.toMatchObject({ code: 'network_error' })
    expect((await before.received(expected.sha256)).bytes).toBe(5 * PIECE_BYTES + 77)

    // The page reloads: a new connection to the same database.
    const after = new PartialDownloads(await openDatabase(dbName))
    const got = await downloadVerified(URL_, expected, { fetch: edge.fetch, partials: after })
    expect(await sha256Hex(got)).toBe(expected.sha256)
    expect(edge.requests.at(-1)?.range).toBe(`bytes=${5 * PIECE_BYTES + 77}-`)
    expect(edge.served()).toBe(SIZE)
  })

  test('corrupt pieces fail the whole-file check, are discarded, and the next attempt starts clean', async () => {
    const bytes = payload(3)
    const expected = { sha256: await sha256Hex(bytes), size: SIZE }
    const db = await openDatabase(`resume-corrupt-${Date.now()}`)
    const partials = new PartialDownloads(db)
    const edge = server(bytes, { breakAfter: [4 * PIECE_BYTES] })
    await expect(downloadVerified(URL_, expected, { fetch: edge.fetch, partials, retries: 0 })).rejects.toMatchObject({
      code: 'network_error',
    })
    // Storage flips bits in a kept piece.
    await db.put('partials', new Uint8Array(PIECE_BYTES).fill(7).buffer, [expected.sha256, PIECE_BYTES])
    await expect(downloadVerified(URL_, expected, { fetch: edge.fetch, partials })).rejects.toMatchObject({
      code: 'integrity_error',
    })
    expect((await partials.received(expected.sha256)).bytes).toBe(0)
    const got = await downloadVerified(URL_, expected, { fetch: edge.fetch, partials })
    expect(await sha256Hex(got)).toBe(expected.sha256)
  })

  test('a server that ignores Range sends the whole file again; the result is still exact', async () => {
    const bytes = payload(4)
    const expected = { sha256: await sha256Hex(bytes), size: SIZE }
    const edge = server(bytes, { breakAfter: [2 * PIECE_BYTES + 5], ignoreRange: true })
    const partials = new PartialDownloads(await openDatabase(`resume-norange-${Date.now()}`))
    let progress = 0
    const got = await downloadVerified(URL_, expected, {
      fetch: edge.fetch,
      partials,
      sleep: noWait,
      onBytes: (n) => (progress += n),
    })
    expect(await sha256Hex(got)).toBe(expected.sha256)
    expect(progress).toBe(SIZE)
    expect(edge.served()).toBe(SIZE + 2 * PIECE_BYTES + 5)
  })
})
