import type { MiddlewareHandler } from 'hono'
import { EdgefleetError } from '../../core/errors.ts'

/**
 * Refuses request bodies over `maxSize` bytes with 413 `too_large`. A declared `Content-Length` over
 * the limit is refused before any byte is read; a body without one (chunked) is read up to the limit
 * and no further. Either way the body is cancelled on refusal, so the client's upload stops and the
 * Worker holds nothing of it. (Hono's own `bodyLimit` leaves a chunked body open after its 413.) A
 * body within the limit is buffered and handed on, so the route reads it as usual.
 *
 * @example app.use('/v1/*', jsonBodyLimit(1024 * 1024))
 */
export function jsonBodyLimit(maxSize: number): MiddlewareHandler {
  if (!Number.isSafeInteger(maxSize) || maxSize < 0) throw new RangeError('maxSize must be a non-negative integer')
  const refuse = () => new EdgefleetError('too_large', `a JSON body is at most ${maxSize} bytes`)
  return async function jsonBodyLimitMiddleware(c, next) {
    const body = c.req.raw.body
    if (!body) return next()
    const declared = c.req.raw.headers.get('Content-Length')
    if (declared !== null && !c.req.raw.headers.has('Transfer-Encoding')) {
      if (Number(declared) > maxSize) {
        await body.cancel().catch(() => undefined)
        throw refuse()
      }
      return next()
    }
    const reader = body.getReader()
    const chunks: Uint8Array[] = []
    let size = 0
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxSize) {
        await reader.cancel().catch(() => undefined)
        throw refuse()
      }
      chunks.push(value)
    }
    const buffer = new Uint8Array(size)
    let at = 0
    for (const chunk of chunks) {
      buffer.set(chunk, at)
      at += chunk.byteLength
    }
    c.req.raw = new Request(c.req.raw, { body: buffer })
    return next()
  }
}
