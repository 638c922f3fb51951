/**
 * @module SQLite layout of a model's SLOs inside its ModelControl (beside the retraining policy):
 * - `slo`: the objectives (body without the webhook secret, the secret apart), revision, who set them;
 * - `slo_state`: per objective name, its state (`ok`, `breached-fast`, `breached-slow`), since when,
 *   and the event that announced it, so an unchanged state records nothing;
 * - `slo_status`: the last evaluation as `GET …/slo/status` returns it;
 * - `slo_judged`: the revision judged last and where its windows ended, so no evaluation judges back
 *   in time.
 */
import type { SloConfig, SloState, SloStatus, SloView } from '../../core/formats/slo.ts'

export const SLO_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS slo (
     id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL, webhook_secret TEXT,
     revision INTEGER NOT NULL, updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS slo_state (
     objective TEXT PRIMARY KEY, state TEXT NOT NULL, since INTEGER, last_event_id TEXT)`,
  'CREATE TABLE IF NOT EXISTS slo_status (id INTEGER PRIMARY KEY CHECK (id = 1), status TEXT NOT NULL)',
  `CREATE TABLE IF NOT EXISTS slo_judged (
     id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL, windows_end INTEGER NOT NULL)`,
]

/** The stored SLOs: the config with its webhook secret restored, and its revision. */
export interface StoredSlo {
  slo: SloConfig
  revision: number
  updatedAt: number
  updatedBy: string
}

/** The state of one objective. */
export interface ObjectiveState {
  state: SloState
  since: number | null
  lastEventId: string | null
}

/** The stored SLOs, or null. */
export function loadSlo(sql: SqlStorage): StoredSlo | null {
  const row = sql
    .exec<{ body: string; webhook_secret: string | null; revision: number; updated_at: number; updated_by: string }>(
      'SELECT * FROM slo WHERE id = 1',
    )
    .toArray()[0]
  if (!row) return null
  const slo = JSON.parse(row.body) as SloConfig
  if (slo.webhook) slo.webhook = { url: slo.webhook.url, secret: row.webhook_secret ?? '' }
  return { slo, revision: row.revision, updatedAt: row.updated_at, updatedBy: row.updated_by }
}

/**
 * Replaces the SLOs (the secret to its own column) and returns the new revision. States of objectives
 * no longer named are dropped; an objective keeps its state across edits of its threshold or target.
 */
export function saveSlo(sql: SqlStorage, slo: SloConfig, at: number, by: string): number {
  const { webhook, ...rest } = slo
  const body = webhook ? { ...rest, webhook: { url: webhook.url } } : rest
  const revision = (loadSlo(sql)?.revision ?? 0) + 1
  sql.exec(
    `INSERT INTO slo (id, body, webhook_secret, revision, updated_at, updated_by) VALUES (1, ?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (id) DO UPDATE SET body = excluded.body, webhook_secret = excluded.webhook_secret,
       revision = excluded.revision, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
    JSON.stringify(body),
    webhook?.secret ?? null,
    revision,
    at,
    by,
  )
  const names = new Set(slo.objectives.map((o) => o.name))
  for (const name of Object.keys(loadObjectiveStates(sql)))
    if (!names.has(name)) sql.exec('DELETE FROM slo_state WHERE objective = ?1', name)
  return revision
}

/** The state of every objective evaluated so far, by name. */
export function loadObjectiveStates(sql: SqlStorage): Record<string, ObjectiveState> {
  const out: Record<string, ObjectiveState> = {}
  for (const r of sql
    .exec<{ objective: string; state: string; since: number | null; last_event_id: string | null }>(
      'SELECT * FROM slo_state',
    )
    .toArray())
    out[r.objective] = { state: r.state as SloState, since: r.since, lastEventId: r.last_event_id }
  return out
}

/** Writes the state of one objective. */
export function saveObjectiveState(sql: SqlStorage, name: string, s: ObjectiveState): void {
  sql.exec(
    `INSERT INTO slo_state (objective, state, since, last_event_id) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (objective) DO UPDATE SET state = excluded.state, since = excluded.since,
       last_event_id = excluded.last_event_id`,
    name,
    s.state,
    s.since,
    s.lastEventId,
  )
}

/** The last evaluation, or null before the first. */
export function loadSloStatus(sql: SqlStorage): SloStatus | null {
  const row = sql.exec<{ status: string }>('SELECT status FROM slo_status WHERE id = 1').toArray()[0]
  return row ? (JSON.parse(row.status) as SloStatus) : null
}

/** Keeps the last evaluation. */
export function saveSloStatus(sql: SqlStorage, status: SloStatus): void {
  sql.exec(
    'INSERT INTO slo_status (id, status) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET status = excluded.status',
    JSON.stringify(status),
  )
}

/** The revision judged last and where the windows of that evaluation ended; null before the first. */
export function loadJudged(sql: SqlStorage): { revision: number; windowsEnd: number } | null {
  const row = sql
    .exec<{ revision: number; windows_end: number }>('SELECT revision, windows_end FROM slo_judged WHERE id = 1')
    .toArray()[0]
  return row ? { revision: row.revision, windowsEnd: row.windows_end } : null
}

/** Records the revision and windows end of the evaluation just stored. */
export function saveJudged(sql: SqlStorage, revision: number, windowsEnd: number): void {
  sql.exec(
    `INSERT INTO slo_judged (id, revision, windows_end) VALUES (1, ?1, ?2)
     ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, windows_end = excluded.windows_end`,
    revision,
    windowsEnd,
  )
}

/** The public view of the stored SLOs: secret redacted, evaluation times included. */
export function sloView(model: string, s: StoredSlo, lastEvaluatedAt: number | null, next: number | null): SloView {
  const { webhook, ...rest } = s.slo
  return {
    model,
    ...rest,
    ...(webhook ? { webhook: { url: webhook.url, secret: '<redacted>' as const } } : {}),
    revision: s.revision,
    updatedAt: s.updatedAt,
    updatedBy: s.updatedBy,
    lastEvaluatedAt,
    nextEvaluationAt: next,
  }
}
