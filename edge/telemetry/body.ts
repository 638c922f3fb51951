import { EdgefleetError } from '../../core/errors.ts'

/** Largest telemetry body on the wire (the SDK's sendBeacon budget is 64 KB). */
export const MAX_WIRE_BYTES = 64 * 1024
/** Largest telemetry body after gzip: bounds memory and CPU whatever the compression ratio. */
export const MAX_DECODED_BYTES = 512 * 1024

const MEDIA_TYPES = new Set(['application/json', 'text/plain'])

/**
 * The text of a telemetry body: `application/json` or `text/plain` (what sendBeacon sends), optionally
 * gzip-compressed as `Content-Encoding: gzip` or `?encoding=gzip` (sendBeacon cannot set headers).
 * Reads at most MAX_WIRE_BYTES and inflates at most MAX_DECODED_BYTES, never more, so a gzip bomb
 * costs 512 KB. Errors: 415 `unsupported_media_type`, 413 `too_large`, 400 `bad_request`.
 */
export async function readTelemetryBody(req: Request): Promise<string> {
  const type = (req.headers.get('Content-Type') ?? '').split(';')[0].trim().toLowerCase()
  if (!MEDIA_TYPES.has(type))
    throw new EdgefleetError('unsupported_media_type', 'telemetry is application/json or text/plain')
  const encoding = (req.headers.get('Content-Encoding') ?? new URL(req.url).searchParams.get('encoding') ?? 'identity')
    .trim()
    .toLowerCase()
  if (encoding !== 'gzip' && encoding !== 'identity')
    throw new EdgefleetError(
      'unsupported_media_type',
      `content encoding "${encoding}" is not supported; use gzip or none`,
    )
  const declared = Number(req.headers.get('Content-Length') ?? NaN)
  if (declared > MAX_WIRE_BYTES) throw tooLarge(`a telemetry body is at most ${MAX_WIRE_BYTES} bytes on the wire`)
  if (req.body === null) throw new EdgefleetError('bad_request', 'a telemetry batch is required')

  let bytes = await readAtMost(req.body, MAX_WIRE_BYTES)
  if (bytes === null) throw tooLarge(`a telemetry body is at most ${MAX_WIRE_BYTES} bytes on the wire`)
  if (encoding === 'gzip') {
    try {
      bytes = await readAtMost(
        new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip')),
        MAX_DECODED_BYTES,
      )
    } catch (cause) {
      throw new EdgefleetError('bad_request', 'the body is not valid gzip', { cause })
    }
    if (bytes === null) throw tooLarge(`a telemetry body is at most ${MAX_DECODED_BYTES} bytes once decompressed`)
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch (cause) {
    throw new EdgefleetError('invalid_json', 'the body is not UTF-8 text', { cause })
  }
}

/** The bytes of `stream`, or null as soon as it exceeds `limit` (the rest is never read). */
async function readAtMost(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array | null> {
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > limit) {
      await reader.cancel().catch(() => undefined)
      return null
    }
    chunks.push(value)
  }
  const out = new Uint8Array(total)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.byteLength
  }
  return out
}

function tooLarge(message: string): EdgefleetError {
  return new EdgefleetError('too_large', message)
}
