import { EdgefleetError } from '../core/errors.ts'
import { errorFromBody } from '../core/wire-error.ts'
import type { Assignment } from '../core/formats/assignment.ts'
import { readAssignment } from './assignment-check.ts'
import { encodeCaps } from '../core/caps.ts'
import type { DeviceCaps } from '../core/formats/telemetry.ts'

/** What the edge answered: a (possibly unchanged) assignment with its ETag. */
export type AssignmentAnswer = { status: 'changed'; assignment: Assignment; etag?: string } | { status: 'unchanged' }

/**
 * Asks the edge which version this device runs (`GET /v1/assign/:model`), sending the ETag of the
 * assignment already held so an unchanged answer is a 304. Edge errors keep their code; a network
 * failure or a 5xx is `network_error` (the caller falls back to its last-known-good assignment).
 */
export async function fetchAssignment(q: {
  endpoint: string
  appKey: string
  model: string
  deviceId: string
  caps: DeviceCaps
  /** The app's cohort label (`createFleet({cohort})`); sent only when the app set one. */
  cohort?: string
  etag?: string
  /** Variants this device found broken, as `exclude=3:fp16` (core/variants/exclusions.ts); empty: none. */
  exclude?: string
  fetch?: typeof fetch
  timeoutMs?: number
}): Promise<AssignmentAnswer> {
  const url = `${q.endpoint.replace(/\/$/, '')}/v1/assign/${encodeURIComponent(q.model)}?device=${encodeURIComponent(q.deviceId)}&caps=${encodeURIComponent(encodeCaps(q.caps))}${q.cohort === undefined ? '' : `&cohort=${encodeURIComponent(q.cohort)}`}${q.exclude ? `&exclude=${encodeURIComponent(q.exclude)}` : ''}`
  const headers: Record<string, string> = { 'X-Edgefleet-Key': q.appKey }
  if (q.etag) headers['If-None-Match'] = q.etag
  let res: Response
  try {
    res = await (q.fetch ?? fetch)(url, { headers, signal: AbortSignal.timeout(q.timeoutMs ?? 10_000) })
  } catch (cause) {
    throw new EdgefleetError('network_error', `the edge at ${q.endpoint} is unreachable (${reason(cause)})`, {
      cause,
    })
  }
  if (res.status === 304) return { status: 'unchanged' }
  if (res.status >= 500) throw new EdgefleetError('network_error', `the edge answered HTTP ${res.status}`)
  const body = await res.json().catch(() => null)
  if (!res.ok) throw errorFromBody(body, res.status, `the edge answered HTTP ${res.status}`)
  return { status: 'changed', assignment: readAssignment(body), etag: res.headers.get('ETag') ?? undefined }
}

/** Why a fetch failed, in a few words: a timeout names itself, anything else gives its message. */
function reason(cause: unknown): string {
  if (cause instanceof Error) return cause.name === 'TimeoutError' ? 'no answer in time' : cause.message || cause.name
  return String(cause)
}
