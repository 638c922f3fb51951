import type { PolicyView, RetrainPolicy } from '../../core/formats/policy.ts'
import { SCHEDULE_SCHEMA } from '../do/schedule.ts'

/**
 * SQLite layout of a ModelControl (one per model). Tables are named by what they hold so rollouts
 * can be added beside policies (`rollout`, `rollout_step`, jobs `rollout:*`):
 * - `meta`: the model's name (a Durable Object does not reliably know the name it was made from);
 * - `policy` / `policy_state`: the retraining policy (secret apart from the body) and its evaluation;
 * - `outbox`: side effects on D1 and the Queue, applied in order and retried until they succeed
 *   (event ids make them idempotent);
 * - `schedule`: jobs of the one alarm (`policy:evaluate`, `outbox:drain`).
 */
export const CONTROL_SCHEMA = [
  'CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
  `CREATE TABLE IF NOT EXISTS policy (
     id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL, webhook_secret TEXT,
     revision INTEGER NOT NULL, updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS policy_state (
     id INTEGER PRIMARY KEY CHECK (id = 1), last_evaluated_at INTEGER, last_fired_at INTEGER,
     last_event_id TEXT, last_result TEXT)`,
  `CREATE TABLE IF NOT EXISTS outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, payload TEXT NOT NULL,
     created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, last_error TEXT)`,
  SCHEDULE_SCHEMA,
]

/** The stored policy: the body without its webhook secret, and the secret apart. */
export interface StoredPolicy {
  policy: RetrainPolicy
  secret: string | null
  revision: number
  updatedAt: number
  updatedBy: string
}

/** Evaluation state of the policy. */
export interface PolicyState {
  lastEvaluatedAt: number | null
  lastFiredAt: number | null
  lastEventId: string | null
  lastResult: { met: boolean; reason: string } | null
}

/** The model this object controls, once known. */
export function getModelName(sql: SqlStorage): string | null {
  return sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'model'").toArray()[0]?.value ?? null
}

/** Remembers the model this object controls. */
export function setModelName(sql: SqlStorage, model: string): void {
  sql.exec(
    "INSERT INTO meta (key, value) VALUES ('model', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    model,
  )
}

/** The stored policy, or null. */
export function loadPolicy(sql: SqlStorage): StoredPolicy | null {
  const row = sql
    .exec<{ body: string; webhook_secret: string | null; revision: number; updated_at: number; updated_by: string }>(
      'SELECT * FROM policy WHERE id = 1',
    )
    .toArray()[0]
  if (!row) return null
  const policy = JSON.parse(row.body) as RetrainPolicy
  if (policy.webhook) policy.webhook = { url: policy.webhook.url, secret: row.webhook_secret ?? '' }
  return {
    policy,
    secret: row.webhook_secret,
    revision: row.revision,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  }
}

/** Replaces the policy (the secret goes to its own column) and returns the new revision. */
export function savePolicy(sql: SqlStorage, policy: RetrainPolicy, at: number, by: string): number {
  const { webhook, ...rest } = policy
  const body = webhook ? { ...rest, webhook: { url: webhook.url } } : rest
  const revision = (loadPolicy(sql)?.revision ?? 0) + 1
  sql.exec(
    `INSERT INTO policy (id, body, webhook_secret, revision, updated_at, updated_by) VALUES (1, ?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (id) DO UPDATE SET body = excluded.body, webhook_secret = excluded.webhook_secret, revision = excluded.revision,
       updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
    JSON.stringify(body),
    webhook?.secret ?? null,
    revision,
    at,
    by,
  )
  return revision
}

/** The evaluation state (all null before the first evaluation). */
export function loadState(sql: SqlStorage): PolicyState {
  const row = sql
    .exec<{
      last_evaluated_at: number | null
      last_fired_at: number | null
      last_event_id: string | null
      last_result: string | null
    }>('SELECT * FROM policy_state WHERE id = 1')
    .toArray()[0]
  return {
    lastEvaluatedAt: row?.last_evaluated_at ?? null,
    lastFiredAt: row?.last_fired_at ?? null,
    lastEventId: row?.last_event_id ?? null,
    lastResult: row?.last_result ? (JSON.parse(row.last_result) as PolicyState['lastResult']) : null,
  }
}

/** Writes the evaluation state. */
export function saveState(sql: SqlStorage, s: PolicyState): void {
  sql.exec(
    `INSERT INTO policy_state (id, last_evaluated_at, last_fired_at, last_event_id, last_result) VALUES (1, ?1, ?2, ?3, ?4)
     ON CONFLICT (id) DO UPDATE SET last_evaluated_at = excluded.last_evaluated_at, last_fired_at = excluded.last_fired_at,
       last_event_id = excluded.last_event_id, last_result = excluded.last_result`,
    s.lastEvaluatedAt,
    s.lastFiredAt,
    s.lastEventId,
    s.lastResult ? JSON.stringify(s.lastResult) : null,
  )
}

/** The public view of a stored policy: secret redacted, state and schedule included. */
export function policyView(
  model: string,
  p: StoredPolicy,
  s: PolicyState,
  nextEvaluationAt: number | null,
): PolicyView {
  const { webhook, ...rest } = p.policy
  return {
    model,
    ...rest,
    ...(webhook ? { webhook: { url: webhook.url, secret: '<redacted>' as const } } : {}),
    revision: p.revision,
    updatedAt: p.updatedAt,
    updatedBy: p.updatedBy,
    state: {
      ...s,
      cooldownUntil: s.lastFiredAt === null ? null : s.lastFiredAt + p.policy.cooldownMinutes * 60_000,
      nextEvaluationAt,
    },
  }
}
