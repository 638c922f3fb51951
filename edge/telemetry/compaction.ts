import {
  addReport,
  checkMergeable,
  decodeAggregate,
  emptyAggregate,
  mergeInto,
  type Aggregate,
  type AggregateJson,
} from '../../core/telemetry/aggregate.ts'
import { parseDeviceSlices } from '../../core/telemetry/slices.ts'
import type { TelemetryConfig } from './config.ts'
import { expireSliceCells, rollupSliceCells, SliceDeltas } from './slice-cells.ts'
import {
  addDeviceCell,
  deviceCellId,
  deviceCellOf,
  rollupDeviceCells,
  saveDeviceCells,
  type DeviceCell,
} from './device-cells.ts'
import {
  addDeviceCounts,
  cellId,
  cellOf,
  deleteCell,
  deviceCountsOf,
  HOUR,
  loadCell,
  rollupCutoff,
  saveCell,
  type Cell,
  type DeviceCounts,
  parseStoredReports,
  quarantineCell,
} from './shard-store.ts'

/**
 * The shard's background work, each step one SQLite transaction run by the caller
 * (`transactionSync`), so a crash anywhere leaves either all of a step or none of it.
 */

/** Raw rows folded into aggregates per compaction step; more are left for the next step. */
export const COMPACT_ROWS = 2_000
/** Minute cells rolled up per step. */
export const ROLLUP_CELLS = 2_000

interface RawRow extends Record<string, SqlStorageValue> {
  seq: number
  device_key: number
  received_at: number
  reports: string
  sample_rate: number
  slices: string
}

/**
 * Folds acknowledged raw rows into their cells and deletes them, in the caller's transaction:
 * aggregates, per-device rows and the deletion commit together or not at all, so a report is counted
 * exactly once whatever fails when. A row that cannot be applied (it never should: every report was
 * checked against its profile) moves to `raw_rejected` instead of blocking the rows behind it.
 * `beforeCommit` runs last, inside the transaction (tests throw from it to simulate a crash).
 */
export function compactRaw(
  sql: SqlStorage,
  now: number,
  cfg: Pick<TelemetryConfig, 'rollupAfterMs'>,
  beforeCommit?: () => void,
): { rows: number; rejected: number; more: boolean } {
  const rows = sql
    .exec<RawRow>(
      'SELECT seq, device_key, received_at, reports, sample_rate, slices FROM raw ORDER BY seq LIMIT ?1',
      COMPACT_ROWS,
    )
    .toArray()
  if (rows.length === 0) return { rows: 0, rejected: 0, more: false }
  const cutoff = rollupCutoff(now, cfg.rollupAfterMs)
  const cells = new Map<string, { cell: Cell; agg: Aggregate }>()
  const target = (cell: Cell) => {
    const id = cellId(cell)
    let entry = cells.get(id)
    if (!entry) cells.set(id, (entry = { cell, agg: loadCell(sql, cell, now) ?? emptyAggregate() }))
    return entry.agg
  }
  const devices = new Map<string, { cell: Cell; device: number; counts: DeviceCounts }>()
  const deviceCells = new Map<string, DeviceCell>()
  const sliceDeltas = new SliceDeltas()
  let rejected = 0
  for (const row of rows) {
    try {
      const reports = parseStoredReports(row.reports)
      const deltas = new Map<string, { cell: Cell; agg: Aggregate }>()
      for (const r of reports) {
        const cell = cellOf(r, cutoff)
        const id = cellId(cell)
        if (!deltas.has(id)) deltas.set(id, { cell, agg: emptyAggregate() })
        addReport(deltas.get(id)!.agg, r, row.device_key, row.sample_rate)
      }
      // Slice deltas are built before anything is applied (building is what can throw), merged after.
      const rowSlices = new SliceDeltas()
      const slices = parseDeviceSlices(row.slices)
      for (const r of reports) rowSlices.add(r, cellOf(r, cutoff), row.device_key, slices)
      // Check every delta before applying any, so a row is applied whole or not at all; merges
      // that passed the check cannot fail (core/telemetry/aggregate.ts).
      for (const d of deltas.values()) checkMergeable(target(d.cell), d.agg)
      for (const d of deltas.values()) mergeInto(target(d.cell), d.agg)
      sliceDeltas.merge(rowSlices)
      for (const r of reports) {
        const cell = cellOf(r, cutoff)
        const part = deviceCellOf(r, cell, row.device_key, row.sample_rate)
        const have = deviceCells.get(deviceCellId(cell, row.device_key))
        if (have) addDeviceCell(have, part)
        else deviceCells.set(deviceCellId(cell, row.device_key), part)
      }
      for (const r of reports) {
        if (!r.rollout) continue
        const cell = cellOf(r, cutoff)
        const id = `${cellId(cell)}|${row.device_key}`
        const add = deviceCountsOf(r)
        const have = devices.get(id)
        if (!have) devices.set(id, { cell, device: row.device_key, counts: add })
        else for (const k of Object.keys(add) as (keyof DeviceCounts)[]) have.counts[k] += add[k]
      }
    } catch (e) {
      rejected++
      sql.exec(
        'INSERT OR REPLACE INTO raw_rejected (seq, device_key, received_at, reports, error, rejected_at, sample_rate) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)',
        row.seq,
        row.device_key,
        row.received_at,
        row.reports,
        e instanceof Error ? e.message.slice(0, 1_000) : String(e).slice(0, 1_000),
        now,
        row.sample_rate,
      )
    }
  }
  for (const { cell, agg } of cells.values()) saveCell(sql, cell, agg)
  for (const { cell, device, counts } of devices.values()) addDeviceCounts(sql, cell, device, counts)
  saveDeviceCells(sql, deviceCells.values())
  sliceDeltas.save(sql)
  sql.exec('DELETE FROM raw WHERE seq <= ?1', rows[rows.length - 1].seq)
  beforeCommit?.()
  return { rows: rows.length, rejected, more: rows.length === COMPACT_ROWS }
}

interface MinuteRow extends Record<string, SqlStorageValue> {
  version: number
  role: string
  rollout: string
  arm: string
  start: number
  data: string
}

/** Merges minute cells older than the rollup cutoff into their hour cells (and per-device rows alike). */
export function rollupMinutes(
  sql: SqlStorage,
  now: number,
  cfg: Pick<TelemetryConfig, 'rollupAfterMs'>,
): { cells: number; more: boolean } {
  const cutoff = rollupCutoff(now, cfg.rollupAfterMs)
  const rows = sql
    .exec<MinuteRow>(
      "SELECT version, role, rollout, arm, start, data FROM agg WHERE grain = 'minute' AND start < ?1 ORDER BY start LIMIT ?2",
      cutoff,
      ROLLUP_CELLS,
    )
    .toArray()
  const hours = new Map<string, { cell: Cell; agg: Aggregate }>()
  for (const row of rows) {
    const hour: Cell = {
      version: row.version,
      role: row.role,
      rollout: row.rollout,
      arm: row.arm,
      grain: 'hour',
      start: Math.floor(row.start / HOUR) * HOUR,
    }
    const minute: Cell = { ...hour, grain: 'minute', start: row.start }
    const id = cellId(hour)
    if (!hours.has(id)) hours.set(id, { cell: hour, agg: loadCell(sql, hour, now) ?? emptyAggregate() })
    try {
      // A minute that cannot be read or merged is quarantined whole; the others roll up regardless.
      mergeInto(hours.get(id)!.agg, decodeAggregate(JSON.parse(row.data) as AggregateJson))
      deleteCell(sql, minute)
    } catch (e) {
      quarantineCell(sql, minute, row.data, e, now)
    }
  }
  for (const { cell, agg } of hours.values()) saveCell(sql, cell, agg)
  // Per-device rows: SQL sums them into hours (integer division floors the start to its hour).
  sql.exec(
    `INSERT INTO device_stats (rollout, arm, version, role, grain, start, device_key, reports, inferences, errors, fallback_inferences, compared, agreed, labeled, correct)
     SELECT rollout, arm, version, role, 'hour', (start / ${HOUR}) * ${HOUR} AS hour, device_key, SUM(reports), SUM(inferences), SUM(errors),
            SUM(fallback_inferences), SUM(compared), SUM(agreed), SUM(labeled), SUM(correct)
     FROM device_stats WHERE grain = 'minute' AND start < ?1
     GROUP BY rollout, arm, version, role, hour, device_key
     ON CONFLICT (rollout, arm, version, role, grain, start, device_key) DO UPDATE SET
       reports = reports + excluded.reports, inferences = inferences + excluded.inferences, errors = errors + excluded.errors,
       fallback_inferences = fallback_inferences + excluded.fallback_inferences, compared = compared + excluded.compared,
       agreed = agreed + excluded.agreed, labeled = labeled + excluded.labeled, correct = correct + excluded.correct`,
    cutoff,
  )
  sql.exec("DELETE FROM device_stats WHERE grain = 'minute' AND start < ?1", cutoff)
  const moreDevices = rollupDeviceCells(sql, cutoff, ROLLUP_CELLS)
  const moreSlices = rollupSliceCells(sql, cutoff, ROLLUP_CELLS)
  return { cells: rows.length, more: rows.length === ROLLUP_CELLS || moreDevices || moreSlices }
}

/** Deletes what retention no longer covers: aggregates, per-device rows, expired dedupe ids. */
export function applyRetention(
  sql: SqlStorage,
  now: number,
  cfg: Pick<TelemetryConfig, 'retentionMs' | 'deviceRetentionMs'>,
): void {
  sql.exec('DELETE FROM agg WHERE start < ?1', now - cfg.retentionMs)
  sql.exec('DELETE FROM device_stats WHERE start < ?1', now - cfg.deviceRetentionMs)
  sql.exec('DELETE FROM batches WHERE expires_at < ?1', now)
  sql.exec('DELETE FROM raw_rejected WHERE rejected_at < ?1', now - cfg.retentionMs)
  sql.exec('DELETE FROM agg_rejected WHERE rejected_at < ?1', now - cfg.retentionMs)
  sql.exec('DELETE FROM device_cells WHERE start < ?1', now - cfg.retentionMs)
  sql.exec('DELETE FROM device_drops WHERE minute < ?1', now - cfg.retentionMs)
  expireSliceCells(sql, now - cfg.retentionMs)
}

/** True while the shard holds anything a periodic job must look after. */
export function hasStoredData(sql: SqlStorage): boolean {
  return (
    sql
      .exec<{ n: number }>(
        'SELECT (EXISTS (SELECT 1 FROM agg) OR EXISTS (SELECT 1 FROM device_stats) OR EXISTS (SELECT 1 FROM device_cells) OR EXISTS (SELECT 1 FROM slice_cells) OR EXISTS (SELECT 1 FROM batches) OR EXISTS (SELECT 1 FROM device_drops)) AS n',
      )
      .one().n === 1
  )
}
