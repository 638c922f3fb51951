import type { Report } from '../../core/formats/telemetry.ts'
import {
  decodeAggregate,
  encodeAggregate,
  mergeInto,
  reportAggregate,
  type Aggregate,
  type AggregateJson,
} from '../../core/telemetry/aggregate.ts'
import { reportWeight } from '../../core/telemetry/device-caps.ts'
import { cellId, HOUR, type Cell } from './shard-store.ts'

/**
 * Per-device rows of every cell, for per-device caps (core/telemetry/device-caps.ts): what one device
 * reported in one cohort and minute (or hour), as an aggregate without histograms, with its weight
 * (inferences + errors + loads + labels) and its estimated weight (the same over the batch's sample
 * rate). A fleet read sums the weights per device to find the devices above the cap, and reads the
 * rows of those devices alone to weigh them down. They roll up and expire like the cells. Table:
 * `device_cells` (edge/telemetry/shard-store.ts).
 */
/** One device's part of one cell. */
export interface DeviceCell {
  cell: Cell
  device: number
  agg: Aggregate
  weight: number
  estWeight: number
}

/** The per-device part of one report (histograms left out: caps do not apply to them). */
export function deviceCellOf(r: Report, cell: Cell, device: number, sampleRate: number): DeviceCell {
  const agg = reportAggregate({ ...r, features: {}, outputs: {} }, device, sampleRate)
  const weight = reportWeight(r)
  return { cell, device, agg, weight, estWeight: weight / sampleRate }
}

/** Adds `add` into `into` (same cell and device). Both come from checked reports, so the merge cannot fail. */
export function addDeviceCell(into: DeviceCell, add: DeviceCell): void {
  mergeInto(into.agg, add.agg)
  into.weight += add.weight
  into.estWeight += add.estWeight
}

/** A map key of a device's part of a cell. */
export function deviceCellId(cell: Cell, device: number): string {
  return `${cellId(cell)}|${device}`
}

/**
 * Adds each part into its stored row (in the caller's transaction). A stored row that cannot be read
 * or merged is replaced by the new part: the rows only weigh devices down, so losing one can only
 * leave a device less capped, never count anything twice.
 */
export function saveDeviceCells(sql: SqlStorage, parts: Iterable<DeviceCell>): void {
  for (const part of parts) {
    const stored = loadDeviceCell(sql, part.cell, part.device)
    if (stored) {
      try {
        addDeviceCell(stored, part)
        writeDeviceCell(sql, stored)
        continue
      } catch {
        // Replaced below.
      }
    }
    writeDeviceCell(sql, part)
  }
}

function loadDeviceCell(sql: SqlStorage, c: Cell, device: number): DeviceCell | null {
  const row = sql
    .exec<{ weight: number; est_weight: number; data: string }>(
      `SELECT weight, est_weight, data FROM device_cells
       WHERE version = ?1 AND role = ?2 AND rollout = ?3 AND arm = ?4 AND grain = ?5 AND start = ?6 AND device_key = ?7`,
      c.version,
      c.role,
      c.rollout,
      c.arm,
      c.grain,
      c.start,
      device,
    )
    .toArray()[0]
  if (!row) return null
  try {
    const agg = decodeAggregate(JSON.parse(row.data) as AggregateJson)
    return { cell: c, device, agg, weight: row.weight, estWeight: row.est_weight }
  } catch {
    return null
  }
}

function writeDeviceCell(sql: SqlStorage, d: DeviceCell): void {
  const c = d.cell
  sql.exec(
    `INSERT INTO device_cells (version, role, rollout, arm, grain, start, device_key, weight, est_weight, data)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
     ON CONFLICT (version, role, rollout, arm, grain, start, device_key) DO UPDATE SET
       weight = excluded.weight, est_weight = excluded.est_weight, data = excluded.data`,
    c.version,
    c.role,
    c.rollout,
    c.arm,
    c.grain,
    c.start,
    d.device,
    d.weight,
    d.estWeight,
    JSON.stringify(encodeAggregate(d.agg)),
  )
}

interface MinuteRow extends Record<string, SqlStorageValue> {
  version: number
  role: string
  rollout: string
  arm: string
  start: number
  device_key: number
  weight: number
  est_weight: number
  data: string
}

/** Merges per-device minute rows older than `cutoff` into their hour rows, at most `limit`; true when more remain. */
export function rollupDeviceCells(sql: SqlStorage, cutoff: number, limit: number): boolean {
  const rows = sql
    .exec<MinuteRow>(
      `SELECT version, role, rollout, arm, start, device_key, weight, est_weight, data FROM device_cells
       WHERE grain = 'minute' AND start < ?1 ORDER BY start LIMIT ?2`,
      cutoff,
      limit,
    )
    .toArray()
  const hours = new Map<string, DeviceCell>()
  for (const row of rows) {
    const hour: Cell = {
      version: row.version,
      role: row.role,
      rollout: row.rollout,
      arm: row.arm,
      grain: 'hour',
      start: Math.floor(row.start / HOUR) * HOUR,
    }
    try {
      const part: DeviceCell = {
        cell: hour,
        device: row.device_key,
        agg: decodeAggregate(JSON.parse(row.data) as AggregateJson),
        weight: row.weight,
        estWeight: row.est_weight,
      }
      const id = deviceCellId(hour, row.device_key)
      const have = hours.get(id)
      if (have) addDeviceCell(have, part)
      else hours.set(id, part)
    } catch {
      // An unreadable row is dropped with the minute: it could only have weighed its device down.
    }
  }
  saveDeviceCells(sql, hours.values())
  for (const row of rows)
    sql.exec(
      `DELETE FROM device_cells WHERE version = ?1 AND role = ?2 AND rollout = ?3 AND arm = ?4 AND grain = 'minute'
       AND start = ?5 AND device_key = ?6`,
      row.version,
      row.role,
      row.rollout,
      row.arm,
      row.start,
      row.device_key,
    )
  return rows.length === limit
}
