/**
 * @module
 * D1 queries of retraining runs (table `runs`, migration 0004): insert one, read one, list a model's
 * newest first, and find the run a trigger event already produced.
 */

import type { Run } from '../../core/formats/run.ts'

/** True when a D1 error is a UNIQUE constraint violation (the insert changed nothing). */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && /UNIQUE constraint failed/i.test(`${err.message} ${String(err.cause ?? '')}`)
}

interface RunRow {
  seq: number
  id: string
  model: string
  body: string
  created_at: number
  created_by: string
}

function toRun(row: RunRow): Run {
  return { ...JSON.parse(row.body), model: row.model, createdAt: row.created_at, createdBy: row.created_by }
}

/**
 * Inserts a run. Fails with a UNIQUE constraint error when its id exists, or when it is a second
 * `completed` run of one trigger event (index `runs_completed_trigger`, migration 0008): one atomic
 * statement, so concurrent runs of one trigger cannot both complete.
 */
export function insertRun(db: D1Database, run: Run): D1PreparedStatement {
  const { model: _model, createdAt: _at, createdBy: _by, ...body } = run
  return db
    .prepare(
      `INSERT INTO runs (id, model, status, trigger, version, body, created_at, created_by)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`,
    )
    .bind(run.id, run.model, run.status, run.trigger, run.version, JSON.stringify(body), run.createdAt, run.createdBy)
}

/** One run of a model, or null. */
export async function getRun(db: D1Database, model: string, id: string): Promise<Run | null> {
  const row = await db.prepare('SELECT * FROM runs WHERE model = ?1 AND id = ?2').bind(model, id).first<RunRow>()
  return row ? toRun(row) : null
}

/** A page of a model's runs, newest first, before the cursor `before` (a seq), optionally filtered. */
export async function listRuns(
  db: D1Database,
  q: { model: string; status?: string; trigger?: string; before?: number; limit: number },
): Promise<{ runs: Run[]; next: string | null }> {
  const where = ['model = ?1']
  const args: unknown[] = [q.model]
  if (q.status !== undefined) where.push(`status = ?${args.push(q.status)}`)
  if (q.trigger !== undefined) where.push(`trigger = ?${args.push(q.trigger)}`)
  if (q.before !== undefined) where.push(`seq < ?${args.push(q.before)}`)
  const { results } = await db
    .prepare(`SELECT * FROM runs WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?${args.push(q.limit + 1)}`)
    .bind(...args)
    .all<RunRow>()
  const page = results.slice(0, q.limit)
  return { runs: page.map(toRun), next: results.length > q.limit ? String(page[page.length - 1].seq) : null }
}

/** The completed run a trigger event already produced for a model, or null (what makes a trigger publish once). */
export async function completedRunOf(db: D1Database, model: string, trigger: string): Promise<Run | null> {
  const row = await db
    .prepare("SELECT * FROM runs WHERE model = ?1 AND trigger = ?2 AND status = 'completed' ORDER BY seq LIMIT 1")
    .bind(model, trigger)
    .first<RunRow>()
  return row ? toRun(row) : null
}

/** The version of a model already published for a trigger event, or null. */
export async function versionOfTrigger(db: D1Database, model: string, trigger: string): Promise<number | null> {
  const row = await db
    .prepare("SELECT version FROM versions WHERE model = ?1 AND json_extract(lineage, '$.triggerEvent') = ?2 LIMIT 1")
    .bind(model, trigger)
    .first<{ version: number }>()
  return row?.version ?? null
}
