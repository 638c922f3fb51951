import type { Context, ErrorHandler, NotFoundHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type * as z from 'zod'
import { EdgefleetError, httpStatus, isEdgefleetError, type ErrorCode } from '../../core/errors.ts'
import { jsonPointer } from '../../core/json-pointer.ts'
import type { AppEnv } from '../env.ts'

/** The JSON error response of every route: `{"error": {"code", "message", "pointer"?}}`. */
export function errorResponse(
  c: Context,
  code: ErrorCode,
  message: string,
  pointer?: string,
  headers?: Record<string, string>,
): Response {
  const body = { error: pointer === undefined ? { code, message } : { code, message, pointer } }
  return c.json(body, httpStatus(code) as ContentfulStatusCode, headers)
}

/** Longest key or path segment an error repeats; longer ones are cut (a request must not be echoed back whole). */
export const MAX_ECHOED_KEY = 64
/** Longest error message built from a zod issue. */
export const MAX_ERROR_MESSAGE = 512

/** A caller-chosen name shortened for an error message or pointer: at most MAX_ECHOED_KEY characters, cut with `…`. */
export function echoKey(key: PropertyKey): string {
  const s = String(key)
  return s.length <= MAX_ECHOED_KEY ? s : `${s.slice(0, MAX_ECHOED_KEY)}…`
}

/**
 * Turns the first zod issue into a `validation_failed` error pointing at the field. Keys the caller
 * chose (unknown keys, record keys in the path) are cut to MAX_ECHOED_KEY characters and at most
 * three unknown keys are named, so an error never echoes a large request back.
 */
export function validationError(error: z.ZodError, target: string): EdgefleetError {
  const issue = error.issues[0]
  const path = issue.path.map((p) => (typeof p === 'number' ? p : echoKey(p)))
  const where = target === 'json' ? '' : `${target} `
  const field = path.length ? `${where}${path.join('.')}: ` : where
  let message = issue.message
  if (issue.code === 'unrecognized_keys') {
    const named = issue.keys.slice(0, 3).map((k) => JSON.stringify(echoKey(k)))
    const more = issue.keys.length > 3 ? ` and ${issue.keys.length - 3} more` : ''
    message = `unrecognized key${issue.keys.length > 1 ? 's' : ''}: ${named.join(', ')}${more}`
  }
  const text = `${field}${message}`
  return new EdgefleetError(
    'validation_failed',
    text.length <= MAX_ERROR_MESSAGE ? text : `${text.slice(0, MAX_ERROR_MESSAGE)}…`,
    { pointer: target === 'json' ? jsonPointer(path) : undefined },
  )
}

/** The validation hook every OpenAPI route shares: bad input is a 400 with a pointer, nothing else runs. */
export function validationHook(result: { success: boolean; error?: unknown; target: string }): void {
  if (!result.success) throw validationError(result.error as z.ZodError, result.target)
}

// Hono's own validators and middleware raise HTTPException with a status; we map it to our codes.
const HTTP_EXCEPTION_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'invalid_json',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'too_large',
  415: 'unsupported_media_type',
}

/** Maps any thrown error to the error body; unknown errors are logged and answered as 500 `internal`. */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (isEdgefleetError(err)) {
    const headers: Record<string, string> = { ...err.details.headers }
    if (err.details.retryAfter !== undefined) headers['Retry-After'] = String(Math.ceil(err.details.retryAfter))
    return errorResponse(c, err.code, err.message, err.details.pointer, headers)
  }
  if (err instanceof HTTPException) {
    const code = HTTP_EXCEPTION_CODES[err.status] ?? 'bad_request'
    return errorResponse(c, code, err.message || code)
  }
  console.error('unhandled error', err)
  return errorResponse(c, 'internal', 'internal error')
}

/** Unknown routes answer 404 `not_found` in the same shape as every other error. */
export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
  errorResponse(c, 'not_found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`)
