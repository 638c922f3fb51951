import type { Event } from '../../core/formats/registry.ts'
import { toHex } from '../../core/hex.ts'

interface EventRow {
  seq: number
  id: string
  type: string
  model: string | null
  actor: string
  at: number
  details: string
}

/** A new event, ready to insert in the same batch (transaction) as the change it records. */
export interface NewEvent {
  id?: string
  type: string
  model: string | null
  actor: string
  at: number
  details: Record<string, unknown>
}

/** A fresh event id: `evt_` + 20 random hex characters. */
export function newEventId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(10))
  return 'evt_' + toHex(bytes)
}

/**
 * Inserts an event; `INSERT OR IGNORE` on its id makes a retried write a no-op. `when` makes it
 * conditional on the same SQL predicate as the change it records (its parameters start at ?7), and
 * `set` adds details computed by SQL inside the same transaction (e.g. the version just assigned).
 */
export function insertEvent(
  db: D1Database,
  e: NewEvent,
  opts: { when?: string; set?: Record<string, string>; args?: unknown[] } = {},
): D1PreparedStatement {
  let details = '?6'
  for (const [key, sql] of Object.entries(opts.set ?? {})) details = `json_set(${details}, '$.${key}', (${sql}))`
  return db
    .prepare(
      `INSERT OR IGNORE INTO events (id, type, model, actor, at, details) SELECT ?1, ?2, ?3, ?4, ?5, ${details} WHERE ${opts.when ?? '1'}`,
    )
    .bind(e.id ?? newEventId(), e.type, e.model, e.actor, e.at, JSON.stringify(e.details), ...(opts.args ?? []))
}

function toEvent(row: EventRow): Event {
  return {
    id: row.id,
    seq: row.seq,
    type: row.type,
    model: row.model,
    actor: row.actor,
    at: row.at,
    details: JSON.parse(row.details),
  }
}

/** A page of events after the cursor `after` (a seq), oldest first, optionally filtered. */
export async function listEvents(
  db: D1Database,
  q: { model?: string; type?: string; after?: number; limit: number },
): Promise<{ events: Event[]; next: string | null; hasMore: boolean }> {
  const where = ['seq > ?1']
  const args: unknown[] = [q.after ?? 0]
  if (q.model !== undefined) where.push(`model = ?${args.push(q.model)}`)
  if (q.type !== undefined) {
    // A trailing ".*" selects a family of types (e.g. "rollout.*").
    if (q.type.endsWith('.*')) {
      const n = args.push(q.type.slice(0, -1))
      where.push(`substr(type, 1, length(?${n})) = ?${n}`)
    } else where.push(`type = ?${args.push(q.type)}`)
  }
  const sql = `SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?${args.push(q.limit + 1)}`
  const { results } = await db
    .prepare(sql)
    .bind(...args)
    .all<EventRow>()
  const page = results.slice(0, q.limit).map(toEvent)
  // The cursor is returned even on the last page, so a reader can resume (or follow) from it later.
  const last = page.length ? String(page[page.length - 1].seq) : q.after !== undefined ? String(q.after) : null
  return { events: page, next: last, hasMore: results.length > q.limit }
}

/** One event by its id, or null. */
export async function getEvent(db: D1Database, id: string): Promise<Event | null> {
  const row = await db.prepare('SELECT * FROM events WHERE id = ?1').bind(id).first<EventRow>()
  return row ? toEvent(row) : null
}
