import type { ZodError } from 'zod'
import { isEdgefleetError } from '../../core/errors.ts'
import { ModelName } from '../../core/formats/common.ts'

/**
 * Refused telemetry, counted per model, reason and UTC minute, so an operator sees what devices (or
 * someone holding an app key) send that the edge will not take. A reason is the error code (`too_old`,
 * `invalid_json`, `rate_limited_device`, …) or, for a batch outside telemetry/1's bounds, the bound it
 * broke (`inferences_over_window`, `errors_over_attempts`, … see `BoundReason`); `schema` for any
 * other shape error. The model is the one the refused report names when it exists, else none ('').
 *
 * Counting never delays or fails a request: counts gather in the isolate and go to the
 * `TelemetryShard` named REFUSALS_SHARD in one RPC per flush, one flush at a time (what arrives
 * meanwhile joins the next), so a flood of refusals costs a few writes, not one per request. Counts
 * of an isolate that dies before its flush are lost; they are operational counters, not telemetry.
 */

/** The TelemetryShard holding refusal counts (not a model name: those are `[a-z0-9-]`). */
export const REFUSALS_SHARD = '~refusals'

/** A stored count. */
export interface RefusalRow {
  minute: number
  model: string
  reason: string
  count: number
}

const MINUTE = 60_000
const pending = new Map<string, RefusalRow>()
let flushing: Promise<void> | null = null

/** The reason to count for a refusal: what the error carries in `data.reason`, else its code. */
export function refusalReason(e: unknown): string {
  if (!isEdgefleetError(e)) return 'internal'
  const reason = e.details.data?.reason
  return typeof reason === 'string' ? reason : e.code
}

/** The reason of a schema refusal: the bound of its first issue (`params.reason`), or `schema`. */
export function schemaReason(error: ZodError): string {
  const issue = error.issues[0] as { code?: string; params?: { reason?: unknown } } | undefined
  const reason = issue?.code === 'custom' ? issue.params?.reason : undefined
  return typeof reason === 'string' ? reason : 'schema'
}

/** The model a refused body names: the report at the error's pointer (`/reports/<i>/…`), else the first one. */
export function modelNamed(json: unknown, pointer: string | undefined): string | null {
  const reports = (json as { reports?: unknown } | null)?.reports
  if (!Array.isArray(reports)) return null
  const at = /^\/reports\/(\d+)(\/|$)/.exec(pointer ?? '')
  const report = reports[at ? Number(at[1]) : 0] as { model?: unknown } | undefined
  const parsed = ModelName.safeParse(report?.model)
  return parsed.success ? parsed.data : null
}

/**
 * Counts one refusal. `waitUntil` keeps the isolate alive for the flush it may start; the flush
 * checks which named models exist (one D1 query) so made-up names never become rows of their own.
 */
export function countRefusal(
  env: Env,
  r: { model: string | null; reason: string; now: number },
  waitUntil: (p: Promise<unknown>) => void,
): void {
  const minute = Math.floor(r.now / MINUTE) * MINUTE
  const model = r.model ?? ''
  const id = `${minute}|${model}|${r.reason}`
  const row = pending.get(id)
  if (row) row.count++
  else pending.set(id, { minute, model, reason: r.reason, count: 1 })
  // The request that starts a flush keeps it alive until nothing is pending, so later requests
  // (whose counts it picks up) never wait on another request's promise.
  if (flushing) return
  flushing = flushLoop(env).finally(() => {
    flushing = null
  })
  waitUntil(flushing)
}

async function flushLoop(env: Env): Promise<void> {
  while (pending.size > 0) {
    const rows = [...pending.values()]
    pending.clear()
    try {
      const named = [...new Set(rows.map((r) => r.model).filter((m) => m !== ''))]
      const known = new Set<string>()
      if (named.length > 0) {
        const { results } = await env.DB.prepare(
          `SELECT name FROM models WHERE name IN (${named.map((_, i) => `?${i + 1}`).join(', ')})`,
        )
          .bind(...named)
          .all<{ name: string }>()
        for (const { name } of results) known.add(name)
      }
      const merged = new Map<string, RefusalRow>()
      for (const r of rows) {
        const model = known.has(r.model) ? r.model : ''
        const id = `${r.minute}|${model}|${r.reason}`
        const have = merged.get(id)
        if (have) have.count += r.count
        else merged.set(id, { ...r, model })
      }
      await refusalStore(env).addRefusals([...merged.values()])
    } catch (e) {
      console.error('telemetry refusal counts could not be stored', e)
    }
  }
}

/** The shard holding refusal counts. */
export function refusalStore(env: Env) {
  return env.TELEMETRY_SHARD.get(env.TELEMETRY_SHARD.idFromName(REFUSALS_SHARD))
}

/** Refusal counts per reason over [from, to), of one model ('' : refusals naming no known model), or of all. */
export async function readRefusals(env: Env, q: { from: number; to: number; model?: string }): Promise<RefusalRow[]> {
  return refusalStore(env).refusals(q)
}
