import { upsertAlias } from '../db/aliases.ts'
import { pinnable, upsertPin } from '../db/cohorts.ts'
import { insertEvent, type NewEvent } from '../db/events.ts'

/** A retraining trigger on the Queue: the consumer reads the event and POSTs it to the policy's webhook. */
export interface RetrainMessage {
  eventId: string
  model: string
}

/**
 * A side effect ModelControl owes the outside world: a D1 event, a Queue message (delivered to the
 * policy's webhook), or an alias move (a cohort pin) recorded with its own `alias.moved`
 * (`cohort.pinned`) event in one D1 batch.
 */
export type Effect =
  | { kind: 'event'; event: NewEvent & { id: string } }
  | { kind: 'queue'; message: RetrainMessage }
  | { kind: 'alias'; model: string; alias: string; version: number; event: NewEvent & { id: string } }
  | { kind: 'pin'; model: string; cohort: string; version: number; event: NewEvent & { id: string } }

const MAX_BACKOFF_MS = 10 * 60_000

/**
 * Records an effect in the outbox, inside the caller's transaction (the one that decided it), so the
 * decision and the obligation to carry it out commit together. `id` is unique per effect.
 */
export function addEffect(sql: SqlStorage, id: string, effect: Effect, now: number): void {
  sql.exec(
    'INSERT OR IGNORE INTO outbox (id, kind, payload, created_at, next_at) VALUES (?1, ?2, ?3, ?4, ?4)',
    id,
    effect.kind,
    JSON.stringify(effect),
    now,
  )
}

/** When the first pending effect (effects apply in order) is due, or null when the outbox is empty. */
export function nextEffectAt(sql: SqlStorage): number | null {
  return sql.exec<{ next_at: number }>('SELECT next_at FROM outbox ORDER BY seq LIMIT 1').toArray()[0]?.next_at ?? null
}

/**
 * Applies due effects in order and deletes each once applied; the first failure stops the run (so a
 * Queue message never overtakes the event it refers to) and backs off exponentially (5 s · 2^n, at
 * most 10 min). Effects are idempotent: events by `INSERT OR IGNORE` on their id, messages by the
 * event id the webhook carries as `Idempotency-Key`.
 */
export async function drainOutbox(
  sql: SqlStorage,
  env: Env,
  now: number,
): Promise<{ applied: number; failed: boolean }> {
  const rows = sql
    .exec<{ id: string; payload: string; attempts: number; next_at: number }>(
      'SELECT id, payload, attempts, next_at FROM outbox ORDER BY seq',
    )
    .toArray()
  let applied = 0
  for (const row of rows) {
    if (row.next_at > now) break // an earlier effect is backing off: keep the order
    const effect = JSON.parse(row.payload) as Effect
    try {
      if (effect.kind === 'event') await insertEvent(env.DB, effect.event).run()
      else if (effect.kind === 'alias') await moveAlias(env.DB, effect)
      else if (effect.kind === 'pin') await pinCohort(env.DB, effect)
      else await env.RETRAIN_QUEUE.send(effect.message, { contentType: 'json' })
    } catch (e) {
      const backoff = Math.min(5_000 * 2 ** row.attempts, MAX_BACKOFF_MS)
      sql.exec(
        'UPDATE outbox SET attempts = attempts + 1, next_at = ?2, last_error = ?3 WHERE id = ?1',
        row.id,
        now + backoff,
        e instanceof Error ? e.message : String(e),
      )
      return { applied, failed: true }
    }
    sql.exec('DELETE FROM outbox WHERE id = ?1', row.id)
    applied++
  }
  return { applied, failed: false }
}

/**
 * Moves an alias and records `alias.moved` in one D1 transaction, both guarded by the target not
 * being deprecated (like `PUT /aliases`). Idempotent: a replay finds its event id taken and the alias
 * already there. A target deprecated meanwhile moves nothing; that is logged, not retried forever.
 */
async function moveAlias(db: D1Database, e: Extract<Effect, { kind: 'alias' }>): Promise<void> {
  const guard = 'EXISTS (SELECT 1 FROM versions WHERE model = ?7 AND version = ?8 AND deprecated_at IS NULL)'
  const [event] = await db.batch([
    insertEvent(db, e.event, {
      when: guard,
      set: { from: 'SELECT version FROM aliases WHERE model = ?7 AND alias = ?9' },
      args: [e.model, e.version, e.alias],
    }),
    upsertAlias(db, { model: e.model, alias: e.alias, version: e.version, at: e.event.at, by: e.event.actor }),
  ])
  if (event.meta.changes === 0)
    console.error(`alias ${e.alias} of ${e.model} not moved to ${e.version}: deprecated, or already applied`)
}

/**
 * Pins a cohort and records `cohort.pinned` in one D1 transaction, both guarded like `PUT …/pin` (a
 * live version, a cohort still in the allow-list). Idempotent as `moveAlias`; a guard that fails is
 * logged, not retried forever.
 */
async function pinCohort(db: D1Database, e: Extract<Effect, { kind: 'pin' }>): Promise<void> {
  const [event] = await db.batch([
    insertEvent(db, e.event, {
      when: pinnable('?7', '?8', '?9'),
      set: { from: 'SELECT version FROM cohort_pins WHERE model = ?7 AND cohort = ?9' },
      args: [e.model, e.version, e.cohort],
    }),
    upsertPin(db, { model: e.model, cohort: e.cohort, version: e.version, at: e.event.at, by: e.event.actor }),
  ])
  if (event.meta.changes === 0)
    console.error(
      `cohort ${e.cohort} of ${e.model} not pinned to ${e.version}: deprecated, dropped, or already applied`,
    )
}
