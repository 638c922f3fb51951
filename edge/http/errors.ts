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

/** Turns the first zod issue into a `validation_failed` error pointing at the field. */
export function validationError(error: z.ZodError, target: string): EdgefleetError {
  const issue = error.issues[0]
  const where = target === 'json' ? '' : `${target} `
  const field = issue.path.length ? `${where}${issue.path.join('.')}: ` : where
  return new EdgefleetError('validation_failed', `${field}${issue.message}`, {
    pointer: target === 'json' ? jsonPointer(issue.path) : undefined,
  })
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
