import { decodeAggregate, encodeAggregate, type Aggregate, type AggregateJson } from '../../core/telemetry/aggregate.ts'
import * as z from 'zod'
import { Report } from '../../core/formats/telemetry.ts'
import { SCHEDULE_SCHEMA } from '../do/schedule.ts'

/**
 * SQLite layout of a TelemetryShard (docs/telemetry.md "Storage"):
 * - `batches`: batch ids seen (dedupe), each kept until no report of it could be accepted again;
 * - `raw`: acknowledged batch parts not yet compacted (one row per batch, reports as JSON, and the
 *   batch's `sample_rate`); `seq` is
 *   the rowid, without AUTOINCREMENT (whose sqlite_sequence update is one more page per commit):
 *   compaction deletes only rows it processed, lowest first, so pending rows keep their order;
 * - `raw_rejected`: parts compaction could not apply (kept for inspection, never silently dropped);
 * - `agg`: one aggregate (core/telemetry/aggregate.ts, JSON) per cohort cell — (version, role,
 *   rollout, arm, grain, start), grain `minute` or `hour`;
 * - `agg_rejected`: cells a job found unreadable (`decodeAggregate` refused them), moved out whole;
 * - `device_stats`: per-device sums per cell, for reports inside a rollout (guardrails);
 * - `device_cells`: every device's part of every cell, for per-device caps (edge/telemetry/device-cells.ts);
 * - `slice_cells`: per cell, slice dimension and value, a lean aggregate (edge/telemetry/slice-cells.ts);
 * - `refusals`: refused telemetry per minute, model and reason (used by the one REFUSALS_SHARD object);
 * - `device_drops`: reports devices said they dropped before sending (a batch's `dropped`), per minute
 *   of receipt and reason;
 * - `schedule`: jobs of the one alarm (compact, rollup, retention).
 */
export const SHARD_SCHEMA = [
  'CREATE TABLE IF NOT EXISTS batches (batch_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID',
  'CREATE INDEX IF NOT EXISTS batches_expiry ON batches (expires_at)',
  'CREATE TABLE IF NOT EXISTS raw (seq INTEGER PRIMARY KEY, device_key INTEGER NOT NULL, received_at INTEGER NOT NULL, reports TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS raw_rejected (seq INTEGER PRIMARY KEY, device_key INTEGER NOT NULL, received_at INTEGER NOT NULL, reports TEXT NOT NULL, error TEXT NOT NULL, rejected_at INTEGER NOT NULL)',
  `CREATE TABLE IF NOT EXISTS agg (
     version INTEGER NOT NULL, role TEXT NOT NULL, rollout TEXT NOT NULL, arm TEXT NOT NULL,
     grain TEXT NOT NULL, start INTEGER NOT NULL, data TEXT NOT NULL,
     PRIMARY KEY (version, role, rollout, arm, grain, start))`,
  'CREATE INDEX IF NOT EXISTS agg_start ON agg (start)',
  // Cells that could not be read (stored before telemetry/1's bounds, or damaged): kept for inspection, never merged.
  `CREATE TABLE IF NOT EXISTS agg_rejected (
     version INTEGER NOT NULL, role TEXT NOT NULL, rollout TEXT NOT NULL, arm TEXT NOT NULL,
     grain TEXT NOT NULL, start INTEGER NOT NULL, data TEXT NOT NULL, error TEXT NOT NULL, rejected_at INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS device_stats (
     rollout TEXT NOT NULL, arm TEXT NOT NULL, version INTEGER NOT NULL, role TEXT NOT NULL,
     grain TEXT NOT NULL, start INTEGER NOT NULL, device_key INTEGER NOT NULL,
     reports INTEGER NOT NULL, inferences INTEGER NOT NULL, errors INTEGER NOT NULL, fallback_inferences INTEGER NOT NULL,
     compared INTEGER NOT NULL, agreed INTEGER NOT NULL, labeled INTEGER NOT NULL, correct INTEGER NOT NULL,
     PRIMARY KEY (rollout, arm, version, role, grain, start, device_key)) WITHOUT ROWID`,
  'CREATE INDEX IF NOT EXISTS device_stats_start ON device_stats (start)',
  // Refused telemetry per minute, model and reason (only in the REFUSALS_SHARD object, edge/telemetry/refusals.ts).
  `CREATE TABLE IF NOT EXISTS refusals (
     minute INTEGER NOT NULL, model TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,
     PRIMARY KEY (minute, model, reason)) WITHOUT ROWID`,
  // Reports devices dropped before sending, per minute received and reason (a batch's `dropped`).
  `CREATE TABLE IF NOT EXISTS device_drops (
     minute INTEGER NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,
     PRIMARY KEY (minute, reason)) WITHOUT ROWID`,
  // Every device's part of every cell, for per-device caps (edge/telemetry/device-cells.ts).
  `CREATE TABLE IF NOT EXISTS device_cells (
     version INTEGER NOT NULL, role TEXT NOT NULL, rollout TEXT NOT NULL, arm TEXT NOT NULL,
     grain TEXT NOT NULL, start INTEGER NOT NULL, device_key INTEGER NOT NULL,
     weight REAL NOT NULL, est_weight REAL NOT NULL, data TEXT NOT NULL,
     PRIMARY KEY (version, role, rollout, arm, grain, start, device_key)) WITHOUT ROWID`,
  'CREATE INDEX IF NOT EXISTS device_cells_start ON device_cells (start)',
  // Per cell, slice dimension and value, a lean aggregate (edge/telemetry/slice-cells.ts).
  `CREATE TABLE IF NOT EXISTS slice_cells (
     version INTEGER NOT NULL, role TEXT NOT NULL, rollout TEXT NOT NULL, arm TEXT NOT NULL,
     grain TEXT NOT NULL, start INTEGER NOT NULL, dimension TEXT NOT NULL, value TEXT NOT NULL, data TEXT NOT NULL,
     PRIMARY KEY (version, role, rollout, arm, grain, start, dimension, value)) WITHOUT ROWID`,
  'CREATE INDEX IF NOT EXISTS slice_cells_start ON slice_cells (start)',
  SCHEDULE_SCHEMA,
]

/**
 * Columns added after the tables above were first deployed, appended in order and never edited:
 * `CREATE TABLE IF NOT EXISTS` leaves an existing table as it is, so objects created before a column
 * existed get it from `ALTER TABLE … ADD COLUMN` (its default fills the rows already there).
 */
export const SHARD_COLUMNS: readonly { table: string; column: string; definition: string }[] = [
  // Rows written before rates were kept came from an edge that counted every report as rate 1.
  { table: 'raw', column: 'sample_rate', definition: 'REAL NOT NULL DEFAULT 1' },
  { table: 'raw_rejected', column: 'sample_rate', definition: 'REAL NOT NULL DEFAULT 1' },
  // The device's slice values as JSON (core/telemetry/slices.ts); rows from before slices have none.
  { table: 'raw', column: 'slices', definition: "TEXT NOT NULL DEFAULT '{}'" },
]

/** Creates the shard's tables and adds any column of SHARD_COLUMNS a table lacks (idempotent). */
export function ensureShardSchema(sql: SqlStorage): void {
  for (const statement of SHARD_SCHEMA) sql.exec(statement)
  for (const { table, column, definition } of SHARD_COLUMNS) {
    const columns = sql.exec<{ name: string }>(`PRAGMA table_info(${table})`).toArray()
    if (!columns.some((c) => c.name === column)) sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`)
  }
}

const StoredReports = z.array(Report).max(256)

/**
 * The reports of a raw row, held again to telemetry/1 and its bounds: rows acknowledged before the
 * bounds existed (or damaged since) throw here, and are then left out by reads and quarantined by
 * compaction, never half-applied.
 */
export function parseStoredReports(text: string): Report[] {
  return StoredReports.parse(JSON.parse(text))
}

/** Bucket widths in ms. */
export const MINUTE = 60_000
export const HOUR = 3_600_000

/** The width of a stored cell. */
export type Grain = 'minute' | 'hour'

/** Where an aggregate lives: one cohort in one minute or hour. `rollout`/`arm` are '' outside rollouts. */
export interface Cell {
  version: number
  role: string
  rollout: string
  arm: string
  grain: Grain
  start: number
}

/** The cell a stored row (of `agg` or `slice_cells`) belongs to. */
export function cellOfRow(row: {
  version: number
  role: string
  rollout: string
  arm: string
  grain: string
  start: number
}): Cell {
  const { version, role, rollout, arm, start } = row
  return { version, role, rollout, arm, grain: row.grain === 'hour' ? 'hour' : 'minute', start }
}

/** A stable string id of a cell (map key). */
export function cellId(c: Cell): string {
  return `${c.version}|${c.role}|${c.rollout}|${c.arm}|${c.grain}|${c.start}`
}

/** The cohort part of a cell id. */
export function cohortId(c: Pick<Cell, 'version' | 'role' | 'rollout' | 'arm'>): string {
  return `${c.version}|${c.role}|${c.rollout}|${c.arm}`
}

/** The first minute that is still kept at minute grain at `now`: older minutes belong to hours. */
export function rollupCutoff(now: number, rollupAfterMs: number): number {
  return Math.floor((now - rollupAfterMs) / HOUR) * HOUR
}

/**
 * The cell a report is counted in: the minute its window starts (a report spanning several minutes
 * counts in its first), or that minute's hour once minutes that old are rolled up.
 */
export function cellOf(r: Report, cutoff: number): Cell {
  const minute = Math.floor(r.window.start / MINUTE) * MINUTE
  const hour = minute < cutoff
  return {
    version: r.version,
    role: r.role,
    rollout: r.rollout?.id ?? '',
    arm: r.rollout?.arm ?? '',
    grain: hour ? 'hour' : 'minute',
    start: hour ? Math.floor(minute / HOUR) * HOUR : minute,
  }
}

/**
 * The stored aggregate of a cell, or null. A stored cell that cannot be read (`decodeAggregate`
 * refuses it) is moved whole to `agg_rejected` and the cell starts empty: a job never fails on it,
 * and nothing of it is merged.
 */
export function loadCell(sql: SqlStorage, c: Cell, now: number): Aggregate | null {
  const data = loadCellData(sql, c)
  if (data === null) return null
  try {
    return decodeAggregate(JSON.parse(data) as AggregateJson)
  } catch (e) {
    quarantineCell(sql, c, data, e, now)
    return null
  }
}

/** Moves a stored cell to `agg_rejected` with the reason. */
export function quarantineCell(sql: SqlStorage, c: Cell, data: string, error: unknown, now: number): void {
  sql.exec(
    'INSERT INTO agg_rejected (version, role, rollout, arm, grain, start, data, error, rejected_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)',
    c.version,
    c.role,
    c.rollout,
    c.arm,
    c.grain,
    c.start,
    data,
    error instanceof Error ? error.message : String(error),
    now,
  )
  deleteCell(sql, c)
}

function loadCellData(sql: SqlStorage, c: Cell): string | null {
  const row = sql
    .exec<{ data: string }>(
      'SELECT data FROM agg WHERE version = ?1 AND role = ?2 AND rollout = ?3 AND arm = ?4 AND grain = ?5 AND start = ?6',
      c.version,
      c.role,
      c.rollout,
      c.arm,
      c.grain,
      c.start,
    )
    .toArray()[0]
  return row?.data ?? null
}

/** Writes (replaces) a cell's aggregate. */
export function saveCell(sql: SqlStorage, c: Cell, agg: Aggregate): void {
  sql.exec(
    `INSERT INTO agg (version, role, rollout, arm, grain, start, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
     ON CONFLICT (version, role, rollout, arm, grain, start) DO UPDATE SET data = excluded.data`,
    c.version,
    c.role,
    c.rollout,
    c.arm,
    c.grain,
    c.start,
    JSON.stringify(encodeAggregate(agg)),
  )
}

/** Deletes a cell. */
export function deleteCell(sql: SqlStorage, c: Cell): void {
  sql.exec(
    'DELETE FROM agg WHERE version = ?1 AND role = ?2 AND rollout = ?3 AND arm = ?4 AND grain = ?5 AND start = ?6',
    c.version,
    c.role,
    c.rollout,
    c.arm,
    c.grain,
    c.start,
  )
}

/** Per-device sums of one device in one cell. */
export interface DeviceCounts {
  reports: number
  inferences: number
  errors: number
  /** Inferences that ran on a backend after another fell back. */
  fallbackInferences: number
  compared: number
  agreed: number
  labeled: number
  correct: number
}

/** The per-device contribution of one report. */
export function deviceCountsOf(r: Report): DeviceCounts {
  return {
    reports: 1,
    inferences: r.counts.inferences,
    errors: r.counts.errors,
    fallbackInferences: Object.keys(r.fallbacks ?? {}).length > 0 ? r.counts.inferences : 0,
    compared: r.shadow?.compared ?? 0,
    agreed: r.shadow?.agreed ?? 0,
    labeled: r.feedback?.labeled ?? 0,
    correct: r.feedback?.correct ?? 0,
  }
}

/** Adds `d` into a device's row of a cell. */
export function addDeviceCounts(sql: SqlStorage, c: Cell, device: number, d: DeviceCounts): void {
  sql.exec(
    `INSERT INTO device_stats (rollout, arm, version, role, grain, start, device_key, reports, inferences, errors, fallback_inferences, compared, agreed, labeled, correct)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
     ON CONFLICT (rollout, arm, version, role, grain, start, device_key) DO UPDATE SET
       reports = reports + excluded.reports, inferences = inferences + excluded.inferences, errors = errors + excluded.errors,
       fallback_inferences = fallback_inferences + excluded.fallback_inferences, compared = compared + excluded.compared,
       agreed = agreed + excluded.agreed, labeled = labeled + excluded.labeled, correct = correct + excluded.correct`,
    c.rollout,
    c.arm,
    c.version,
    c.role,
    c.grain,
    c.start,
    device,
    d.reports,
    d.inferences,
    d.errors,
    d.fallbackInferences,
    d.compared,
    d.agreed,
    d.labeled,
    d.correct,
  )
}
