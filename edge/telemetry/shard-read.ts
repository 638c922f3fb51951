import type { Report } from '../../core/formats/telemetry.ts'
import {
  checkMergeable,
  decodeAggregate,
  emptyAggregate,
  encodeAggregate,
  mergeInto,
  reportAggregate,
  type Aggregate,
  type AggregateJson,
} from '../../core/telemetry/aggregate.ts'
import { toPoint, type PointJson } from '../../core/telemetry/series.ts'
import type { CohortWeights } from './shard-caps.ts'
import {
  cellId,
  cellOf,
  cellOfRow,
  cohortId,
  deviceCountsOf,
  HOUR,
  MINUTE,
  parseStoredReports,
  rollupCutoff,
  type Cell,
  type DeviceCounts,
} from './shard-store.ts'

/** A range read of one shard. `bucketMs` (60 000 or 3 600 000) asks for a series; null for totals only. */
export interface ShardQuery {
  from: number
  to: number
  version?: number
  role?: string
  bucketMs: number | null
  /**
   * Cells starting before this go to hour buckets even in a minute series: the reader passes one
   * rollup cutoff to every shard, so shards that have and have not yet rolled an hour up answer alike.
   */
  hourBefore?: number
}

/** One cohort of one shard over the range: the full aggregate and, if asked, its series. */
export interface ShardCohort {
  version: number
  role: string
  /** '' outside a rollout. */
  rollout: string
  arm: string
  total: AggregateJson
  points: PointJson[]
  /** Its devices' weights and estimated weights over the range (per-device caps, edge/telemetry/shard-caps.ts). */
  weights?: CohortWeights
}

interface AggRow extends Record<string, SqlStorageValue> {
  version: number
  role: string
  rollout: string
  arm: string
  grain: string
  start: number
  data: string
}

/** What one shard read returns: its cohorts, and how many stored cells or raw rows it had to leave out. */
export interface ShardRead {
  cohorts: ShardCohort[]
  /** Cells and raw rows that could not be read or merged (stored before telemetry/1's bounds, or damaged). */
  skipped: number
  /** Reports devices dropped before sending, per reason, in batches received in [from, to). */
  deviceDropped?: Record<string, number>
}

/** Drop counts per reason that devices reported in batches received in [from, to). */
export function readDeviceDrops(sql: SqlStorage, q: Pick<ShardQuery, 'from' | 'to'>): Record<string, number> {
  const rows = sql
    .exec<{ reason: string; count: number }>(
      'SELECT reason, TOTAL(count) AS count FROM device_drops WHERE minute >= ?1 AND minute < ?2 GROUP BY reason ORDER BY reason',
      q.from,
      q.to,
    )
    .toArray()
  return Object.fromEntries(rows.map((r) => [r.reason, r.count]))
}

/**
 * Reads a range from stored cells AND from raw rows not yet compacted (placed in the cell compaction
 * would give them), so a read sees every acknowledged report exactly once, whether or not
 * compaction has run. Cells count when their bucket starts in [from, to): a rolled-up hour is read
 * whole when it starts inside the range. Never fails on stored data: a cell or raw row that cannot
 * be decoded, held to telemetry/1's bounds or merged is left out whole and counted in `skipped`
 * (the shard's jobs quarantine it later); reads write nothing.
 */
export function readShard(sql: SqlStorage, q: ShardQuery, now: number, rollupAfterMs: number): ShardRead {
  let skipped = 0
  const cells: { cell: Cell; agg: Aggregate }[] = []
  const filters = ['start >= ?1', 'start < ?2']
  const args: unknown[] = [q.from, q.to]
  if (q.version !== undefined) filters.push(`version = ?${args.push(q.version)}`)
  if (q.role !== undefined) filters.push(`role = ?${args.push(q.role)}`)
  for (const row of sql.exec<AggRow>(
    `SELECT version, role, rollout, arm, grain, start, data FROM agg WHERE ${filters.join(' AND ')}`,
    ...args,
  )) {
    const cell = cellOfRow(row)
    try {
      cells.push({ cell, agg: decodeAggregate(JSON.parse(row.data) as AggregateJson) })
    } catch {
      skipped++
    }
  }
  const pending = new Map<string, { cell: Cell; agg: Aggregate }>()
  skipped += forPendingRows(sql, q, now, rollupAfterMs, (parts) => {
    // A raw row counts whole or not at all: every part must merge before any does.
    const targets = parts.map(({ cell }) => {
      const id = cellId(cell)
      if (!pending.has(id)) pending.set(id, { cell, agg: emptyAggregate() })
      return pending.get(id)!.agg
    })
    parts.forEach(({ agg }, i) => checkMergeable(targets[i], agg))
    parts.forEach(({ agg }, i) => mergeInto(targets[i], agg))
  })
  cells.push(...pending.values())

  type Bucket = { start: number; end: number; agg: Aggregate }
  const cohorts = new Map<string, { cell: Cell; total: Aggregate; buckets: Map<string, Bucket> }>()
  for (const { cell, agg } of cells) {
    const id = cohortId(cell)
    if (!cohorts.has(id)) cohorts.set(id, { cell, total: emptyAggregate(), buckets: new Map() })
    const cohort = cohorts.get(id)!
    const [start, end] =
      q.bucketMs === null
        ? [0, 0]
        : bucketOf(cell, cell.start < (q.hourBefore ?? -Infinity) ? Math.max(q.bucketMs, HOUR) : q.bucketMs)
    const bucket = cohort.buckets.get(`${start}:${end}`)
    try {
      checkMergeable(cohort.total, agg)
      if (bucket) checkMergeable(bucket.agg, agg)
    } catch {
      skipped++
      continue
    }
    mergeInto(cohort.total, agg)
    if (q.bucketMs === null) continue
    // `agg` is not read again once merged into the total, so the first bucket may take it over.
    if (bucket) mergeInto(bucket.agg, agg)
    else cohort.buckets.set(`${start}:${end}`, { start, end, agg })
  }
  return {
    skipped,
    cohorts: [...cohorts.values()].map(({ cell, total, buckets }) => ({
      version: cell.version,
      role: cell.role,
      rollout: cell.rollout,
      arm: cell.arm,
      total: encodeAggregate(total),
      points: foldIntoHours([...buckets.values()]).map((b) => toPoint(b.agg, b.start, b.end)),
    })),
  }
}

/** Per-device sums over a range (rollout guardrails: the device is the unit of analysis). */
export interface DeviceStatsRow extends DeviceCounts {
  rollout: string
  arm: string
  version: number
  role: string
  device: number
}

/** Per-device sums of reports inside rollouts over [from, to), stored and pending alike. */
export function readDeviceStats(
  sql: SqlStorage,
  q: { from: number; to: number; rollout?: string },
  now: number,
  rollupAfterMs: number,
): DeviceStatsRow[] {
  const out = new Map<string, DeviceStatsRow>()
  const add = (key: Omit<DeviceStatsRow, keyof DeviceCounts>, c: DeviceCounts) => {
    const id = `${key.rollout}|${key.arm}|${key.version}|${key.role}|${key.device}`
    const have = out.get(id)
    if (!have) out.set(id, { ...key, ...c })
    else for (const k of Object.keys(c) as (keyof DeviceCounts)[]) have[k] += c[k]
  }
  const filters = ['start >= ?1', 'start < ?2']
  const args: unknown[] = [q.from, q.to]
  if (q.rollout !== undefined) filters.push(`rollout = ?${args.push(q.rollout)}`)
  const rows = sql.exec<Record<string, number | string>>(
    // TOTAL, not SUM: a float total never fails with SQLite's "integer overflow".
    `SELECT rollout, arm, version, role, device_key, TOTAL(reports) AS reports, TOTAL(inferences) AS inferences, TOTAL(errors) AS errors,
            TOTAL(fallback_inferences) AS fallbackInferences, TOTAL(compared) AS compared, TOTAL(agreed) AS agreed, TOTAL(labeled) AS labeled, TOTAL(correct) AS correct
     FROM device_stats WHERE ${filters.join(' AND ')} GROUP BY rollout, arm, version, role, device_key`,
    ...args,
  )
  for (const r of rows) {
    const { rollout, arm, version, role, device_key, ...counts } = r
    add(
      {
        rollout: String(rollout),
        arm: String(arm),
        version: Number(version),
        role: String(role),
        device: Number(device_key),
      },
      counts as unknown as DeviceCounts,
    )
  }
  forPendingRows(sql, { ...q, bucketMs: null }, now, rollupAfterMs, (parts) => {
    for (const { report: r, cell, device } of parts) {
      if (!r.rollout || (q.rollout !== undefined && r.rollout.id !== q.rollout)) continue
      add({ rollout: cell.rollout, arm: cell.arm, version: cell.version, role: cell.role, device }, deviceCountsOf(r))
    }
  })
  return [...out.values()]
}

/** One report of a raw row inside the query's range: its cell, the device, its batch's rate and its aggregate alone. */
export interface PendingPart {
  report: Report
  cell: Cell
  device: number
  sampleRate: number
  agg: Aggregate
}

/**
 * Calls `visit` once per raw (uncompacted) row with its reports that fall in the query's range, each
 * held to telemetry/1 and aggregated alone, and the row's device slice values (JSON). A row that fails there, or whose `visit` throws, is left
 * out whole; returns how many were.
 */
export function forPendingRows(
  sql: SqlStorage,
  q: ShardQuery,
  now: number,
  rollupAfterMs: number,
  visit: (parts: PendingPart[], slices: string) => void,
): number {
  const cutoff = rollupCutoff(now, rollupAfterMs)
  let skipped = 0
  for (const row of sql.exec<{ device_key: number; reports: string; sample_rate: number; slices: string }>(
    'SELECT device_key, reports, sample_rate, slices FROM raw ORDER BY seq',
  )) {
    try {
      const parts: PendingPart[] = []
      for (const report of parseStoredReports(row.reports)) {
        if (q.version !== undefined && report.version !== q.version) continue
        if (q.role !== undefined && report.role !== q.role) continue
        const cell = cellOf(report, cutoff)
        if (cell.start < q.from || cell.start >= q.to) continue
        parts.push({
          report,
          cell,
          device: row.device_key,
          sampleRate: row.sample_rate,
          agg: reportAggregate(report, row.device_key, row.sample_rate),
        })
      }
      if (parts.length > 0) visit(parts, row.slices)
    } catch {
      skipped++
    }
  }
  return skipped
}

/** The series bucket of a cell: its `bucketMs` slot, or the cell itself when the cell is wider (an hour in a minute series). */
export function bucketOf(cell: Cell, bucketMs: number): [number, number] {
  const width = cell.grain === 'hour' ? HOUR : MINUTE
  if (width > bucketMs) return [cell.start, cell.start + width]
  const start = Math.floor(cell.start / bucketMs) * bucketMs
  return [start, start + bucketMs]
}

/** Merges minute buckets into the hour bucket of the same cohort that contains them (exact: same shard). */
function foldIntoHours<B extends { start: number; end: number; agg: Aggregate }>(buckets: B[]): B[] {
  const hours = new Map<number, B>()
  for (const b of buckets) if (b.end - b.start === HOUR) hours.set(b.start, b)
  const out = [...hours.values()]
  for (const b of buckets) {
    if (b.end - b.start === HOUR) continue
    const hour = hours.get(Math.floor(b.start / HOUR) * HOUR)
    if (hour) mergeInto(hour.agg, b.agg)
    else out.push(b)
  }
  return out.sort((a, b) => a.start - b.start)
}
