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
