/**
 * The one error type of edgefleet. `code` is stable and machine-readable; it maps to an HTTP status
 * in one place (`httpStatus`) and survives the worker boundary and the wire unchanged.
 *
 * @example throw new EdgefleetError('not_found', 'model "weather" does not exist')
 */
export class EdgefleetError extends Error {
  override readonly name = 'EdgefleetError'
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: {
      pointer?: string
      cause?: unknown
      retryAfter?: number
      headers?: Record<string, string>
      data?: Record<string, unknown>
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
  }

  /** The JSON pointer (RFC 6901) of the offending field, when there is one. */
  get pointer(): string | undefined {
    return this.details.pointer
  }
}

/** Every error code edgefleet emits, with the HTTP status it maps to. */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  hash_mismatch: 400,
  signature_error: 400,
  invalid_path: 400,
  artifact_missing: 400,
  not_hf_layout: 400,
  too_old: 400,
  too_new: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  interface_mismatch: 409,
  deprecated: 409,
  no_variant: 409,
  length_required: 411,
  too_large: 413,
  unsupported_media_type: 415,
  precondition_failed: 412,
  range_not_satisfiable: 416,
  rate_limited: 429,
  integrity_error: 502,
  network_error: 503,
  backend_unavailable: 500,
  webgpu_mismatch: 500,
  quota_exceeded: 507,
  empty_data: 422,
  parse_error: 422,
  internal: 500,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

/** The HTTP status for an error code. */
export function httpStatus(code: ErrorCode): number {
  return ERROR_STATUS[code]
}

/** True when `e` is an EdgefleetError (also after structured cloning, which loses the prototype). */
export function isEdgefleetError(e: unknown): e is EdgefleetError {
  return (
    e instanceof EdgefleetError ||
    (typeof e === 'object' &&
      e !== null &&
      (e as { name?: unknown }).name === 'EdgefleetError' &&
      typeof (e as { code?: unknown }).code === 'string')
  )
}
