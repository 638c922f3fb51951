import type {
  RolloutConfig,
  RolloutDecisionView,
  RolloutState,
  RolloutTransitionView,
  RolloutView,
} from '../../core/formats/rollout.ts'
import type { RolloutAssignView } from '../../core/rollout/assign.ts'

/**
 * Rollout tables of a ModelControl (beside the policy's, see control-store.ts):
 * - `rollout`: every rollout of the model, newest last (`seq`); at most one is active (running or
 *   paused). `(id, step, status)` is the compare-and-set key of every transition;
 * - `rollout_transition`: the timeline, one row per transition with the id of its event.
 */
export const ROLLOUT_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS rollout (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, config TEXT NOT NULL,
     status TEXT NOT NULL, step INTEGER NOT NULL, step_started_at INTEGER NOT NULL, reason TEXT,
     created_at INTEGER NOT NULL, created_by TEXT NOT NULL, updated_at INTEGER NOT NULL, last_decision TEXT)`,
  `CREATE TABLE IF NOT EXISTS rollout_transition (
     rollout_id TEXT NOT NULL, n INTEGER NOT NULL, at INTEGER NOT NULL, action TEXT NOT NULL, reason TEXT NOT NULL,
     actor TEXT NOT NULL, from_status TEXT, from_step INTEGER, to_status TEXT NOT NULL, to_step INTEGER NOT NULL,
     event_id TEXT NOT NULL, PRIMARY KEY (rollout_id, n))`,
]

/** A stored rollout: its config (baseline resolved) and state. */
export interface StoredRollout {
  config: RolloutConfig & { baseline: number }
  state: RolloutState
  reason: string | null
  createdAt: number
  createdBy: string
  updatedAt: number
  lastDecision: RolloutDecisionView | null
}

interface Row extends Record<string, SqlStorageValue> {
  id: string
  config: string
  status: string
  step: number
  step_started_at: number
  reason: string | null
  created_at: number
  created_by: string
  updated_at: number
  last_decision: string | null
}

function fromRow(r: Row): StoredRollout {
  return {
    config: JSON.parse(r.config) as StoredRollout['config'],
    state: { id: r.id, status: r.status as RolloutState['status'], step: r.step, stepStartedAt: r.step_started_at },
    reason: r.reason,
    createdAt: r.created_at,
    createdBy: r.created_by,
    updatedAt: r.updated_at,
    lastDecision: r.last_decision ? (JSON.parse(r.last_decision) as RolloutDecisionView) : null,
  }
}

/** The newest rollout of the model, or null. */
export function latestRollout(sql: SqlStorage): StoredRollout | null {
  const row = sql.exec<Row>('SELECT * FROM rollout ORDER BY seq DESC LIMIT 1').toArray()[0]
  return row ? fromRow(row) : null
}

/** A rollout by id, or null. */
export function getRollout(sql: SqlStorage, id: string): StoredRollout | null {
  const row = sql.exec<Row>('SELECT * FROM rollout WHERE id = ?1', id).toArray()[0]
  return row ? fromRow(row) : null
}

/** The active (running or paused) rollout, or null. */
export function activeRollout(sql: SqlStorage): StoredRollout | null {
  const row = sql
    .exec<Row>("SELECT * FROM rollout WHERE status IN ('running', 'paused') ORDER BY seq DESC LIMIT 1")
    .toArray()[0]
  return row ? fromRow(row) : null
}

/** Stores a new rollout. */
export function insertRollout(sql: SqlStorage, r: StoredRollout): void {
  sql.exec(
    `INSERT INTO rollout (id, config, status, step, step_started_at, reason, created_at, created_by, updated_at, last_decision)
     VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7, ?6, NULL)`,
    r.state.id,
    JSON.stringify(r.config),
    r.state.status,
    r.state.step,
    r.state.stepStartedAt,
    r.createdAt,
    r.createdBy,
  )
}

/**
 * Compare-and-set: moves the rollout from `from` to `to` only if it is still at `from`'s step and
 * status. Returns false (nothing written) when someone else moved it first.
 */
export function casState(
  sql: SqlStorage,
  from: RolloutState,
  to: RolloutState,
  reason: string | null,
  at: number,
): boolean {
  const cursor = sql.exec(
    `UPDATE rollout SET status = ?1, step = ?2, step_started_at = ?3, reason = ?4, updated_at = ?5
     WHERE id = ?6 AND step = ?7 AND status = ?8`,
    to.status,
    to.step,
    to.stepStartedAt,
    reason,
    at,
    from.id,
    from.step,
    from.status,
  )
  return cursor.rowsWritten === 1
}

/** Records the last evaluation of a rollout. */
export function saveDecision(sql: SqlStorage, id: string, decision: RolloutDecisionView): void {
  sql.exec('UPDATE rollout SET last_decision = ?2 WHERE id = ?1', id, JSON.stringify(decision))
}

/** Appends a timeline entry. */
export function addTransition(sql: SqlStorage, id: string, t: RolloutTransitionView): void {
  const n = sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM rollout_transition WHERE rollout_id = ?1', id).one().n
  sql.exec(
    `INSERT INTO rollout_transition (rollout_id, n, at, action, reason, actor, from_status, from_step, to_status, to_step, event_id)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)`,
    id,
    n,
    t.at,
    t.action,
    t.reason,
    t.actor,
    t.from?.status ?? null,
    t.from?.step ?? null,
    t.to.status,
    t.to.step,
    t.eventId,
  )
}

/** The timeline of a rollout, oldest first. */
export function transitionsOf(sql: SqlStorage, id: string): RolloutTransitionView[] {
  return sql
    .exec<Record<string, SqlStorageValue>>('SELECT * FROM rollout_transition WHERE rollout_id = ?1 ORDER BY n', id)
    .toArray()
    .map((r) => ({
      at: r.at as number,
      action: r.action as RolloutTransitionView['action'],
      reason: r.reason as string,
      actor: r.actor as string,
      from:
        r.from_status === null
          ? null
          : { status: r.from_status as RolloutState['status'], step: r.from_step as number },
      to: { status: r.to_status as RolloutState['status'], step: r.to_step as number },
      eventId: r.event_id as string,
    }))
}

/** The candidate's share of a rollout in a state: the step's percent while active, 0 rolled back, 100 promoted. */
export function percentOf(r: Pick<StoredRollout, 'config' | 'state'>): number {
  if (r.state.status === 'rolled_back') return 0
  if (r.state.status === 'promoted') return 100
  return r.config.steps[r.state.step].percent
}

/** The public view of a stored rollout. */
export function rolloutView(
  model: string,
  r: StoredRollout,
  transitions: RolloutTransitionView[],
  nextEvaluationAt: number | null,
): RolloutView {
  return {
    id: r.state.id,
    model,
    config: r.config,
    status: r.state.status,
    step: r.state.step,
    percent: percentOf(r),
    stepStartedAt: r.state.stepStartedAt,
    reason: r.reason,
    createdAt: r.createdAt,
    createdBy: r.createdBy,
    updatedAt: r.updatedAt,
    nextEvaluationAt,
    lastDecision: r.lastDecision,
    transitions,
  }
}

/** What the assign route caches of the active rollout. */
export function assignViewOf(r: StoredRollout): RolloutAssignView {
  const { config, state } = r
  return {
    id: state.id,
    mode: config.mode,
    status: state.status as RolloutAssignView['status'],
    baseline: config.baseline,
    candidate: config.candidate,
    percent: percentOf(r),
    ...(config.targeting ? { targeting: config.targeting } : {}),
    ttlSeconds: config.ttlSeconds,
    shadowSampleRate: config.shadowSampleRate,
  }
}
