import { EdgefleetError, ERROR_STATUS, type ErrorCode } from './errors.ts'

/** An error as plain data, so its `code` survives postMessage and comlink. */
export interface SerializedError {
  name: string
  code: string
  message: string
  pointer?: string
  /** Per-backend reasons of an all-backends-failed error, and similar structured detail. */
  data?: Record<string, unknown>
}

/** Serializes any thrown value; EdgefleetErrors keep their code, others become `internal`. */
export function serializeError(e: unknown): SerializedError {
  if (
    e instanceof EdgefleetError ||
    (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'EdgefleetError')
  ) {
    const err = e as EdgefleetError
    return {
      name: 'EdgefleetError',
      code: err.code,
      message: err.message,
      pointer: err.details?.pointer,
      data: err.details?.data,
    }
  }
  return { name: 'EdgefleetError', code: 'internal', message: e instanceof Error ? e.message : String(e) }
}

/** Rebuilds an EdgefleetError from its serialized form (unknown codes become `internal`). */
export function deserializeError(s: SerializedError): EdgefleetError {
  const code = (s.code in ERROR_STATUS ? s.code : 'internal') as ErrorCode
  return new EdgefleetError(code, s.message, { pointer: s.pointer, data: s.data })
}

// Codes for answers that carry no error body (e.g. a proxy's page in between).
const STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  411: 'length_required',
  413: 'too_large',
  416: 'range_not_satisfiable',
  429: 'rate_limited',
}

/** The error code an HTTP status stands for when the answer says nothing more. */
export function codeOfStatus(status: number): ErrorCode {
  return STATUS_CODES[status] ?? (status >= 500 ? 'internal' : 'bad_request')
}

/**
 * The edge's error body (`{"error": {code, message, pointer?}}`, core/formats/error.ts) as an
 * EdgefleetError. An answer without one (not JSON, another shape) or with a code this version does not
 * know gets the code of its status; `fallback` is the message when the body has none.
 *
 * @example throw errorFromBody(await res.json().catch(() => null), res.status, `GET ${url} answered ${res.status}`)
 */
export function errorFromBody(body: unknown, status: number, fallback: string): EdgefleetError {
  const err = (body as { error?: { code?: unknown; message?: unknown; pointer?: unknown } } | null)?.error
  if (err && typeof err.code === 'string' && typeof err.message === 'string') {
    const code = (err.code in ERROR_STATUS ? err.code : codeOfStatus(status)) as ErrorCode
    return new EdgefleetError(code, err.message, { pointer: typeof err.pointer === 'string' ? err.pointer : undefined })
  }
  return new EdgefleetError(codeOfStatus(status), fallback)
}
