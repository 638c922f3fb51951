/**
 * @module
 * Slice cells (docs/telemetry.md, "Slices"): per cohort cell, dimension and slice value, a lean
 * aggregate (core/telemetry/slice-aggregate.ts). Compaction writes them in the same transaction as
 * the cells (so each report counts exactly once), rollup merges minutes into hours and retention
 * deletes them like cells; reads add raw rows not yet compacted, as `readShard` does.
 */
import type { SliceDimension } from '../../core/formats/slices.ts'
import type { Report } from '../../core/formats/telemetry.ts'
import {
  addSliceReport,
  decodeSliceAggregate,
  emptySliceAggregate,
  encodeSliceAggregate,
  mergeSliceInto,
  type SliceAggregate,
} from '../../core/telemetry/slice-aggregate.ts'
import { SliceDimension as Dimensions } from '../../core/formats/slices.ts'
import { parseSketch } from '../../core/sketch/parse.ts'
import { parseDeviceSlices, sliceValueOf, type DeviceSlices } from '../../core/telemetry/slices.ts'
import { forPendingRows, type ShardQuery } from './shard-read.ts'
import { cellId, cellOfRow, cohortId, HOUR, type Cell } from './shard-store.ts'

/** A slice cell's key. */
interface SliceKey {
  cell: Cell
  dimension: SliceDimension
  value: string
}

/** Slice deltas of one compaction step, keyed by cell, dimension and value. */
export class SliceDeltas {
  readonly #entries = new Map<string, SliceKey & { agg: SliceAggregate }>()

  /** Adds one report of a device, in every dimension it has a value for. */
  add(r: Report, cell: Cell, device: number, slices: DeviceSlices): void {
    const latency = parseSketch(r.latency)
    for (const dimension of Dimensions.options) {
      const value = sliceValueOf(dimension, r, slices)
      if (value === null) continue
      const id = `${cellId(cell)}|${dimension}|${value}`
      let entry = this.#entries.get(id)
      if (!entry) this.#entries.set(id, (entry = { cell, dimension, value, agg: emptySliceAggregate() }))
      addSliceReport(entry.agg, r, device, latency)
    }
  }

  /** Adds every delta of `other` (one raw row, once it applied whole). */
  merge(other: SliceDeltas): void {
    for (const [id, e] of other.#entries) {
      const have = this.#entries.get(id)
      if (have) mergeSliceInto(have.agg, e.agg)
      else this.#entries.set(id, e)
    }
  }

  /** Merges the deltas into the stored slice cells (in the caller's transaction). */
  save(sql: SqlStorage): void {
    for (const { cell, dimension, value, agg } of this.#entries.values()) {
      const stored = loadSliceCell(sql, { cell, dimension, value })
      saveSliceCell(sql, { cell, dimension, value }, stored ? mergeSliceInto(stored, agg) : agg)
    }
  }
}

function keyArgs(k: SliceKey): unknown[] {
  const c = k.cell
  return [c.version, c.role, c.rollout, c.arm, c.grain, c.start, k.dimension, k.value]
}

const WHERE =
  'version = ?1 AND role = ?2 AND rollout = ?3 AND arm = ?4 AND grain = ?5 AND start = ?6 AND dimension = ?7 AND value = ?8'

/** A stored slice cell, or null (also when it cannot be read: it is then replaced whole, as a damaged cell). */
function loadSliceCell(sql: SqlStorage, k: SliceKey): SliceAggregate | null {
  const row = sql.exec<{ data: string }>(`SELECT data FROM slice_cells WHERE ${WHERE}`, ...keyArgs(k)).toArray()[0]
  if (!row) return null
  try {
    return decodeSliceAggregate(JSON.parse(row.data))
  } catch {
    return null
  }
}

function saveSliceCell(sql: SqlStorage, k: SliceKey, agg: SliceAggregate): void {
  sql.exec(
    `INSERT INTO slice_cells (version, role, rollout, arm, grain, start, dimension, value, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
     ON CONFLICT (version, role, rollout, arm, grain, start, dimension, value) DO UPDATE SET data = excluded.data`,
    ...keyArgs(k),
    JSON.stringify(encodeSliceAggregate(agg)),
  )
}

interface SliceRow extends Record<string, SqlStorageValue> {
  version: number
  role: string
  rollout: string
  arm: string
  grain: string
  start: number
  dimension: string
  value: string
  data: string
}

/** Merges minute slice cells before `cutoff` into their hours (in the caller's transaction); true when more remain. */
export function rollupSliceCells(sql: SqlStorage, cutoff: number, limit: number): boolean {
  const rows = sql
    .exec<SliceRow>(
      "SELECT * FROM slice_cells WHERE grain = 'minute' AND start < ?1 ORDER BY start LIMIT ?2",
      cutoff,
      limit,
    )
    .toArray()
  const hours = new Map<string, SliceKey & { agg: SliceAggregate }>()
  for (const row of rows) {
    const minute: SliceKey = {
      cell: {
        version: row.version,
        role: row.role,
        rollout: row.rollout,
        arm: row.arm,
        grain: 'minute',
        start: row.start,
      },
      dimension: row.dimension as SliceDimension,
      value: row.value,
    }
    const hour: SliceKey = {
      ...minute,
      cell: { ...minute.cell, grain: 'hour', start: Math.floor(row.start / HOUR) * HOUR },
    }
    const id = `${cellId(hour.cell)}|${hour.dimension}|${hour.value}`
    if (!hours.has(id)) hours.set(id, { ...hour, agg: loadSliceCell(sql, hour) ?? emptySliceAggregate() })
    try {
      mergeSliceInto(hours.get(id)!.agg, decodeSliceAggregate(JSON.parse(row.data)))
    } catch {
      // An unreadable minute is dropped with its row: slices are a view, the cohort cells stay exact.
    }
    sql.exec(`DELETE FROM slice_cells WHERE ${WHERE}`, ...keyArgs(minute))
  }
  for (const h of hours.values()) saveSliceCell(sql, h, h.agg)
  return rows.length === limit
}

/** Deletes slice cells older than `before` (retention, as cells). */
export function expireSliceCells(sql: SqlStorage, before: number): void {
  sql.exec('DELETE FROM slice_cells WHERE start < ?1', before)
}

/** One cohort's slices of one dimension over a range, from one shard. */
export interface ShardCohortSlices {
  version: number
  role: string
  rollout: string
  arm: string
  /** Slice value → stored form of its aggregate. */
  slices: Record<string, ReturnType<typeof encodeSliceAggregate>>
}

/**
 * One dimension's slices over [from, to), per cohort: stored slice cells merged with raw rows not
 * yet compacted (placed as compaction would place them), so every acknowledged report counts exactly
 * once whether or not compaction has run. Unreadable cells and rows are left out and counted.
 */
export function readSliceCells(
  sql: SqlStorage,
  q: ShardQuery & { dimension: SliceDimension; rollout?: string },
  now: number,
  rollupAfterMs: number,
): { cohorts: ShardCohortSlices[]; skipped: number } {
  let skipped = 0
  const cohorts = new Map<string, { cell: Cell; slices: Map<string, SliceAggregate> }>()
  const add = (cell: Cell, value: string, agg: SliceAggregate) => {
    const id = cohortId(cell)
    if (!cohorts.has(id)) cohorts.set(id, { cell, slices: new Map() })
    const slices = cohorts.get(id)!.slices
    const have = slices.get(value)
    if (have) mergeSliceInto(have, agg)
    else slices.set(value, agg)
  }
  const filters = ['start >= ?1', 'start < ?2', 'dimension = ?3']
  const args: unknown[] = [q.from, q.to, q.dimension]
  if (q.version !== undefined) filters.push(`version = ?${args.push(q.version)}`)
  if (q.role !== undefined) filters.push(`role = ?${args.push(q.role)}`)
  if (q.rollout !== undefined) filters.push(`rollout = ?${args.push(q.rollout)}`)
  for (const row of sql.exec<SliceRow>(`SELECT * FROM slice_cells WHERE ${filters.join(' AND ')}`, ...args)) {
    const cell = cellOfRow(row)
    try {
      add(cell, row.value, decodeSliceAggregate(JSON.parse(row.data)))
    } catch {
      skipped++
    }
  }
  skipped += forPendingRows(sql, q, now, rollupAfterMs, (parts, slicesText) => {
    const device = parseDeviceSlices(slicesText)
    for (const { report, cell, device: key } of parts) {
      if (q.rollout !== undefined && cell.rollout !== q.rollout) continue
      const value = sliceValueOf(q.dimension, report, device)
      if (value !== null) add(cell, value, addSliceReport(emptySliceAggregate(), report, key))
    }
  })
  return {
    skipped,
    cohorts: [...cohorts.values()].map(({ cell, slices }) => ({
      version: cell.version,
      role: cell.role,
      rollout: cell.rollout,
      arm: cell.arm,
      slices: Object.fromEntries([...slices].map(([v, a]) => [v, encodeSliceAggregate(a)])),
    })),
  }
}
