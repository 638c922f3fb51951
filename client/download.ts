import { EdgefleetError } from '../core/errors.ts'
import { toHex } from '../core/hex.ts'

/** Progress of a load: bytes received so far of the bytes that must be downloaded. */
export interface Progress {
  loaded: number
  total: number
}

/** Lowercase hex SHA-256 of bytes, with SubtleCrypto. */
export async function sha256Hex(bytes: ArrayBuffer | Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as BufferSource)
  return toHex(digest)
}

/**
 * Downloads a file into memory, streaming so progress can be reported, and verifies its size and
 * SHA-256 before returning: bytes that are not what the manifest promised never leave this
 * function (`integrity_error`). Network failures are `network_error`.
 */
export async function downloadVerified(
  url: string,
  expected: { sha256: string; size: number },
  options: {
    headers?: Record<string, string>
    onBytes?: (n: number) => void
    fetch?: typeof fetch
    signal?: AbortSignal
  } = {},
): Promise<ArrayBuffer> {
  const doFetch = options.fetch ?? fetch
  let res: Response
  try {
    res = await doFetch(url, { headers: options.headers, signal: options.signal })
  } catch (cause) {
    throw new EdgefleetError('network_error', `could not fetch ${url}`, { cause })
  }
  if (!res.ok || !res.body) {
    throw new EdgefleetError(
      res.status === 404 ? 'not_found' : 'network_error',
      `fetching ${url} gave HTTP ${res.status}`,
    )
  }
  const buffer = new Uint8Array(expected.size)
  let offset = 0
  const reader = res.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    if (offset + value.byteLength > expected.size) {
      await reader.cancel()
      throw new EdgefleetError(
        'integrity_error',
        `${url} is longer than the ${expected.size} bytes its manifest declares`,
      )
    }
    buffer.set(value, offset)
    offset += value.byteLength
    options.onBytes?.(value.byteLength)
  }
  if (offset !== expected.size)
    throw new EdgefleetError('integrity_error', `${url} has ${offset} bytes, its manifest declares ${expected.size}`)
  const actual = await sha256Hex(buffer)
  if (actual !== expected.sha256)
    throw new EdgefleetError('integrity_error', `${url} hashes to ${actual}, not ${expected.sha256}; refused`)
  return buffer.buffer
}
