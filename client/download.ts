/**
 * @module
 * Downloading one file into memory with progress, verified by size and SHA-256 before it is returned:
 * bytes that are not what the manifest promised never leave this module (`integrity_error`). Files above
 * `RESUMABLE_MIN_BYTES` are resumable when given a piece store: what arrived is kept in IndexedDB as it
 * comes (client/partials.ts), and a download cut off by a network drop (retried here) or by a reload (the
 * next load) continues with an HTTP Range request from where it stopped.
 */
import { EdgefleetError, isEdgefleetError } from '../core/errors.ts'
import { toHex } from '../core/hex.ts'
import type { PartialDownloads } from './partials.ts'

/** Progress of a load: bytes received so far of the bytes that must be downloaded. */
export interface Progress {
  loaded: number
  total: number
}

/** Files larger than this resume after an interruption instead of starting over. */
export const RESUMABLE_MIN_BYTES = 8 * 1024 * 1024
/** A resumable download keeps what arrived in pieces of this size (the last one may be shorter). */
export const PIECE_BYTES = 1024 * 1024

/** Options of a download. */
export interface DownloadOptions {
  headers?: Record<string, string>
  /** Bytes as they arrive, also those resumed from an earlier attempt. */
  onBytes?: (n: number) => void
  fetch?: typeof fetch
  signal?: AbortSignal
  /** Where pieces of large files are kept; without it every download starts from the first byte. */
  partials?: PartialDownloads
  /** Network failures retried, resuming, within this call (default 3; resumable files only). */
  retries?: number
  /** Waits between retries (default: real time); tests pass their own. */
  sleep?: (ms: number) => Promise<void>
}

/** Lowercase hex SHA-256 of bytes, with SubtleCrypto. */
export async function sha256Hex(bytes: ArrayBuffer | Uint8Array): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', bytes as BufferSource))
}

/**
 * Downloads a file and verifies its size and SHA-256 before returning it. Network failures are
 * `network_error`; a resumable file's pieces survive them and a later call continues from there.
 */
export async function downloadVerified(
  url: string,
  expected: { sha256: string; size: number },
  options: DownloadOptions = {},
): Promise<ArrayBuffer> {
  const buffer = new Uint8Array(expected.size)
  const partials = expected.size > RESUMABLE_MIN_BYTES ? options.partials : undefined
  let offset = 0
  if (partials) {
    const { pieces, bytes } = await partials.received(expected.sha256)
    if (bytes <= expected.size) {
      for (const piece of pieces) {
        buffer.set(new Uint8Array(piece), offset)
        offset += piece.byteLength
      }
      if (offset > 0) options.onBytes?.(offset)
    } else await partials.discard(expected.sha256)
  }
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const retries = partials ? (options.retries ?? 3) : 0
  for (let attempt = 0; ; attempt++) {
    // Every piece already here (a reload after the last one arrived): nothing left to fetch.
    if (offset === expected.size && offset > 0) break
    try {
      offset = await receive(url, expected, buffer, offset, options, partials)
      break
    } catch (e) {
      if (!isEdgefleetError(e) || e.code !== 'network_error' || attempt >= retries) throw e
      offset = partials ? (await partials.received(expected.sha256)).bytes : 0
      await sleep(500 * 2 ** attempt)
    }
  }
  const actual = await sha256Hex(buffer)
  await partials?.discard(expected.sha256)
  if (actual !== expected.sha256)
    throw new EdgefleetError('integrity_error', `${url} hashes to ${actual}, not ${expected.sha256}; refused`)
  return buffer.buffer
}

/** Streams the file from `offset` into `buffer` (a Range request when resuming); returns the bytes held. */
async function receive(
  url: string,
  expected: { sha256: string; size: number },
  buffer: Uint8Array,
  offset: number,
  options: DownloadOptions,
  partials: PartialDownloads | undefined,
): Promise<number> {
  const headers = { ...options.headers, ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}) }
  let res: Response
  try {
    res = await (options.fetch ?? fetch)(url, { headers, signal: options.signal })
  } catch (cause) {
    throw new EdgefleetError('network_error', `could not fetch ${url}`, { cause })
  }
  if (offset > 0 && res.status === 200) {
    // The server sent the whole file after all: start over, and forget the pieces it replaces.
    await partials?.discard(expected.sha256)
    options.onBytes?.(-offset)
    offset = 0
  } else if (offset > 0 && res.status === 206) {
    const start = Number(/^bytes (\d+)-/.exec(res.headers.get('Content-Range') ?? '')?.[1])
    if (start !== offset) {
      await res.body?.cancel()
      throw new EdgefleetError('network_error', `${url} answered a range from ${start}, not ${offset}`)
    }
  }
  if (!(res.ok && res.status === (offset > 0 ? 206 : 200)) || !res.body) {
    await res.body?.cancel().catch(() => undefined)
    throw new EdgefleetError(
      res.status === 404 ? 'not_found' : 'network_error',
      `fetching ${url} gave HTTP ${res.status}`,
    )
  }
  let pieceStart = offset
  const keep = async (end: number) => {
    if (partials && end > pieceStart)
      await partials.add(expected.sha256, pieceStart, buffer.slice(pieceStart, end).buffer)
    pieceStart = end
  }
  const reader = res.body.getReader()
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>
    try {
      chunk = await reader.read()
    } catch (cause) {
      await keep(offset)
      throw new EdgefleetError('network_error', `the download of ${url} broke off after ${offset} bytes`, { cause })
    }
    if (chunk.done) break
    const value = chunk.value
    if (offset + value.byteLength > expected.size) {
      await reader.cancel()
      await partials?.discard(expected.sha256)
      throw new EdgefleetError(
        'integrity_error',
        `${url} is longer than the ${expected.size} bytes its manifest declares`,
      )
    }
    buffer.set(value, offset)
    offset += value.byteLength
    options.onBytes?.(value.byteLength)
    if (offset - pieceStart >= PIECE_BYTES) await keep(offset)
  }
  if (offset !== expected.size) {
    await partials?.discard(expected.sha256)
    throw new EdgefleetError('integrity_error', `${url} has ${offset} bytes, its manifest declares ${expected.size}`)
  }
  return offset
}
