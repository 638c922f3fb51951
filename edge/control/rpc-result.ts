import { deserializeError, serializeError, type SerializedError } from '../../core/wire-error.ts'

/**
 * What a Durable Object RPC method returns instead of throwing: an error thrown across RPC arrives
 * as a bare `Error` (its `code` lost, so a 409 would become a 500). The object catches, the route
 * rethrows the rebuilt `EdgefleetError`.
 */
export type RpcResult<T> = { ok: true; value: T } | { ok: false; error: SerializedError }

/** Runs `fn`, capturing an `EdgefleetError` (or any error, as `internal`) as data. */
export async function capture<T>(fn: () => T | Promise<T>): Promise<RpcResult<T>> {
  try {
    return { ok: true, value: await fn() }
  } catch (e) {
    const error = serializeError(e)
    if (error.code === 'internal') throw e
    return { ok: false, error }
  }
}

/** The value of a result, or its error rethrown. */
export function unwrap<T>(r: RpcResult<T>): T {
  if (r.ok) return r.value
  throw deserializeError(r.error)
}
