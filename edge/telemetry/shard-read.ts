import type { Report } from '../../core/formats/telemetry.ts'
import {
  addReport,
  decodeAggregate,
  emptyAggregate,
  encodeAggregate,
  mergeInto,
  type Aggregate,
  type AggregateJson,
} from '../../core/telemetry/aggregate.ts'
import { toPoint, type PointJson } from '../../core/telemetry/series.ts'
import {
  cellId,
  cellOf,
  cohortId,
  deviceCountsOf,
  HOUR,
  MINUTE,
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

/**
 * Reads a range from stored cells AND from raw rows not yet compacted (placed in the cell compaction
 * would give them), so a read sees every acknowledged report exactly once, whether or not
 * compaction has run. Cells count when their bucket starts in [from, to): a rolled-up hour is read
 * whole when it starts inside the range.
 */
export function readShard(sql: SqlStorage, q: ShardQuery, now: number, rollupAfterMs: number): ShardCohort[] {
  const cells: { cell: Cell; agg: Aggregate }[] = []
  const filters = ['start >= ?1', 'start < ?2']
  const args: unknown[] = [q.from, q.to]
  if (q.version !== undefined) filters.push(`version = ?${args.push(q.version)}`)
  if (q.role !== undefined) filters.push(`role = ?${args.push(q.role)}`)
  for (const row of sql.exec<AggRow>(
    `SELECT version, role, rollout, arm, grain, start, data FROM agg WHERE ${filters.join(' AND ')}`,
    ...args,
  )) {
    const cell: Cell = {
      version: row.version,
      role: row.role,
      rollout: row.rollout,
      arm: row.arm,
      grain: row.grain === 'hour' ? 'hour' : 'minute',
      start: row.start,
    }
    cells.push({ cell, agg: decodeAggregate(JSON.parse(row.data) as AggregateJson) })
  }
  const pending = new Map<string, { cell: Cell; agg: Aggregate }>()
  forPendingReports(sql, q, now, rollupAfterMs, (r, cell, device, sampleRate) => {
    const id = cellId(cell)
    if (!pending.has(id)) pending.set(id, { cell, agg: emptyAggregate() })
    addReport(pending.get(id)!.agg, r, device, sampleRate)
  })
  cells.push(...pending.values())

  type Bucket = { start: number; end: number; agg: Aggregate }
  const cohorts = new Map<string, { cell: Cell; total: Aggregate; buckets: Map<string, Bucket> }>()
  for (const { cell, agg } of cells) {
    const id = cohortId(cell)
    if (!cohorts.has(id)) cohorts.set(id, { cell, total: emptyAggregate(), buckets: new Map() })
    const cohort = cohorts.get(id)!
    mergeInto(cohort.total, agg)
    if (q.bucketMs === null) continue
    const [start, end] = bucketOf(
      cell,
      cell.start < (q.hourBefore ?? -Infinity) ? Math.max(q.bucketMs, HOUR) : q.bucketMs,
    )
    const bucket = cohort.buckets.get(`${start}:${end}`)
    // `agg` is not read again once merged into the total, so the first bucket may take it over.
    if (bucket) mergeInto(bucket.agg, agg)
    else cohort.buckets.set(`${start}:${end}`, { start, end, agg })
  }
  return [...cohorts.values()].map(({ cell, total, buckets }) => ({
    version: cell.version,
    role: cell.role,
    rollout: cell.rollout,
    arm: cell.arm,
    total: encodeAggregate(total),
    points: foldIntoHours([...buckets.values()]).map((b) => toPoint(b.agg, b.start, b.end)),
  }))
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
    `SELECT rollout, arm, version, role, device_key, SUM(reports) AS reports, SUM(inferences) AS inferences, SUM(errors) AS errors,
            SUM(fallback_inferences) AS fallbackInferences, SUM(compared) AS compared, SUM(agreed) AS agreed, SUM(labeled) AS labeled, SUM(correct) AS correct
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
  forPendingReports(sql, { ...q, bucketMs: null }, now, rollupAfterMs, (r, cell, device) => {
    if (!r.rollout || (q.rollout !== undefined && r.rollout.id !== q.rollout)) return
    add({ rollout: cell.rollout, arm: cell.arm, version: cell.version, role: cell.role, device }, deviceCountsOf(r))
  })
  return [...out.values()]
}

/** Calls `visit` for every report of the raw (uncompacted) rows that falls in the query's range, with its batch's sample rate. */
function forPendingReports(
  sql: SqlStorage,
  q: ShardQuery,
  now: number,
  rollupAfterMs: number,
  visit: (r: Report, cell: Cell, device: number, sampleRate: number) => void,
): void {
  const cutoff = rollupCutoff(now, rollupAfterMs)
  for (const row of sql.exec<{ device_key: number; reports: string; sample_rate: number }>(
    'SELECT device_key, reports, sample_rate FROM raw ORDER BY seq',
  )) {
    for (const r of JSON.parse(row.reports) as Report[]) {
      if (q.version !== undefined && r.version !== q.version) continue
      if (q.role !== undefined && r.role !== q.role) continue
      const cell = cellOf(r, cutoff)
      if (cell.start >= q.from && cell.start < q.to) visit(r, cell, row.device_key, row.sample_rate)
    }
  }
}

/** The series bucket of a cell: its `bucketMs` slot, or the cell itself when the cell is wider (an hour in a minute series). */
function bucketOf(cell: Cell, bucketMs: number): [number, number] {
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
