import type { SketchJson } from '../../core/formats/sketch.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import {
  decodeAggregate,
  emptyAggregate,
  mergeInto,
  type Aggregate,
  type AggregateJson,
} from '../../core/telemetry/aggregate.ts'
import { keptShare } from '../../core/telemetry/device-caps.ts'
import { addFigures, encodeFigures, excessOf, noFigures, type FiguresJson } from '../../core/telemetry/figures.ts'
import { deviceCellOf } from './device-cells.ts'
import { bucketOf, forPendingRows, type ShardQuery } from './shard-read.ts'
import { cohortId, HOUR, type Cell } from './shard-store.ts'

/**
 * A shard's part of per-device caps (core/telemetry/device-caps.ts), in two rounds of a fleet read.
 * Round 1 (`cohortWeights`, with every read): per cohort, a sketch of its devices' weights and one of
 * their estimated weights over the range, from `device_cells` and the raw rows not yet compacted.
 * The reader merges them over the shards and sets each cohort's caps (4 × the median). Round 2
 * (`readExcess`, only when some device is above a cap): per cohort, what to take away so the devices
 * above it weigh no more than it, in total and per series bucket; only those devices' rows are read.
 */

/** Weights of one cohort's devices over a range (one value per device with a positive weight). */
export interface CohortWeights {
  weights: SketchJson
  estWeights: SketchJson
}

/** The caps a reader sets for one cohort (`cohortId`). */
export interface CohortCap {
  cohort: string
  cap: number
  estCap: number
}

/** What a shard takes away from one cohort: how many of its devices are capped, and their excess. */
export interface CohortExcess {
  cohort: string
  devices: number
  total: FiguresJson
  points: { start: number; end: number; excess: FiguresJson }[]
}

type Weights = Map<string, Map<number, { weight: number; estWeight: number }>>

/** Per cohort and device, the weight and estimated weight over the query's range (stored rows and raw rows). */
function deviceWeights(sql: SqlStorage, q: ShardQuery, now: number, rollupAfterMs: number): Weights {
  const out: Weights = new Map()
  const add = (cohort: string, device: number, weight: number, estWeight: number) => {
    let devices = out.get(cohort)
    if (!devices) out.set(cohort, (devices = new Map()))
    const have = devices.get(device)
    if (have) {
      have.weight += weight
      have.estWeight += estWeight
    } else devices.set(device, { weight, estWeight })
  }
  const filters = ['start >= ?1', 'start < ?2']
  const args: unknown[] = [q.from, q.to]
  if (q.version !== undefined) filters.push(`version = ?${args.push(q.version)}`)
  if (q.role !== undefined) filters.push(`role = ?${args.push(q.role)}`)
  for (const r of sql.exec<{
    version: number
    role: string
    rollout: string
    arm: string
    device_key: number
    w: number
    e: number
  }>(
    `SELECT version, role, rollout, arm, device_key, TOTAL(weight) AS w, TOTAL(est_weight) AS e FROM device_cells
     WHERE ${filters.join(' AND ')} GROUP BY version, role, rollout, arm, device_key`,
    ...args,
  ))
    add(cohortId(r), r.device_key, r.w, r.e)
  forPendingRows(sql, q, now, rollupAfterMs, (parts) => {
    for (const p of parts) {
      const d = deviceCellOf(p.report, p.cell, p.device, p.sampleRate)
      add(cohortId(p.cell), p.device, d.weight, d.estWeight)
    }
  })
  return out
}

/** Round 1: per cohort, the sketches of its devices' weights and estimated weights. */
export function cohortWeights(
  sql: SqlStorage,
  q: ShardQuery,
  now: number,
  rollupAfterMs: number,
): Map<string, CohortWeights> {
  const out = new Map<string, CohortWeights>()
  for (const [cohort, devices] of deviceWeights(sql, q, now, rollupAfterMs)) {
    const weights = new DDSketch()
    const estWeights = new DDSketch()
    for (const { weight, estWeight } of devices.values()) {
      if (weight > 0) weights.add(weight)
      if (estWeight > 0) estWeights.add(estWeight)
    }
    out.set(cohort, { weights: weights.toJSON(), estWeights: estWeights.toJSON() })
  }
  return out
}

/**
 * Round 2: for each cohort with caps, the devices above one of them and what to take away from the
 * cohort (and from each series bucket) so each weighs only `cap / weight` of itself in the figures
 * and `estCap / estWeight` of itself in the estimates.
 */
export function readExcess(
  sql: SqlStorage,
  q: ShardQuery,
  caps: readonly CohortCap[],
  now: number,
  rollupAfterMs: number,
): CohortExcess[] {
  const weights = deviceWeights(sql, q, now, rollupAfterMs)
  const out: CohortExcess[] = []
  for (const { cohort, cap, estCap } of caps) {
    const capped = new Map<number, { keep: number; keepEstimate: number }>()
    for (const [device, w] of weights.get(cohort) ?? [])
      if (w.weight > cap || w.estWeight > estCap)
        capped.set(device, { keep: keptShare(w.weight, cap), keepEstimate: keptShare(w.estWeight, estCap) })
    if (capped.size === 0) continue
    const [version, role, rollout, arm] = cohort.split('|')
    const totals = new Map<number, Aggregate>()
    const buckets = new Map<string, { start: number; end: number; devices: Map<number, Aggregate> }>()
    const addPart = (cell: Cell, device: number, agg: Aggregate) => {
      mergeInto(totals.get(device) ?? totals.set(device, emptyAggregate()).get(device)!, agg)
      if (q.bucketMs === null) return
      const width = cell.start < (q.hourBefore ?? -Infinity) ? Math.max(q.bucketMs, HOUR) : q.bucketMs
      const [start, end] = bucketOf(cell, width)
      let b = buckets.get(`${start}:${end}`)
      if (!b) buckets.set(`${start}:${end}`, (b = { start, end, devices: new Map() }))
      mergeInto(b.devices.get(device) ?? b.devices.set(device, emptyAggregate()).get(device)!, agg)
    }
    const keys = [...capped.keys()]
    for (let i = 0; i < keys.length; i += 50) {
      const batch = keys.slice(i, i + 50)
      for (const row of sql.exec<{ grain: string; start: number; device_key: number; data: string }>(
        `SELECT grain, start, device_key, data FROM device_cells
         WHERE version = ?1 AND role = ?2 AND rollout = ?3 AND arm = ?4 AND start >= ?5 AND start < ?6
           AND device_key IN (${batch.map((_, j) => `?${j + 7}`).join(', ')})`,
        Number(version),
        role,
        rollout,
        arm,
        q.from,
        q.to,
        ...batch,
      )) {
        const cell: Cell = {
          version: Number(version),
          role,
          rollout,
          arm,
          grain: row.grain === 'hour' ? 'hour' : 'minute',
          start: row.start,
        }
        try {
          addPart(cell, row.device_key, decodeAggregate(JSON.parse(row.data) as AggregateJson))
        } catch {
          // A row that cannot be read leaves its device less capped; it cannot count twice.
        }
      }
    }
    forPendingRows(sql, q, now, rollupAfterMs, (parts) => {
      for (const p of parts)
        if (cohortId(p.cell) === cohort && capped.has(p.device))
          addPart(p.cell, p.device, deviceCellOf(p.report, p.cell, p.device, p.sampleRate).agg)
    })
    const excess = (devices: Map<number, Aggregate>) => {
      const sum = noFigures()
      for (const [device, agg] of devices) {
        const { keep, keepEstimate } = capped.get(device)!
        addFigures(sum, excessOf(agg, keep, keepEstimate))
      }
      return encodeFigures(sum)
    }
    out.push({
      cohort,
      devices: capped.size,
      total: excess(totals),
      points: [...buckets.values()].map((b) => ({ start: b.start, end: b.end, excess: excess(b.devices) })),
    })
  }
  return out
}
