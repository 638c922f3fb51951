import type { SketchJson } from '../../core/formats/sketch.ts'
import { type DDSketch } from '../../core/sketch/DDSketch.ts'
import { parseSketch } from '../../core/sketch/parse.ts'
import { weightCap } from '../../core/telemetry/device-caps.ts'
import {
  addFigures,
  decodeFigures,
  figuresOf,
  noFigures,
  subtractFigures,
  type Figures,
} from '../../core/telemetry/figures.ts'
import { figuresOfPoint, type PointJson } from '../../core/telemetry/series.ts'
import type { CappedFigures } from '../../core/telemetry/summarize.ts'
import type { Aggregate } from '../../core/telemetry/aggregate.ts'
import { shardStub } from './ingest.ts'
import type { CohortCap, CohortExcess } from './shard-caps.ts'
import type { ShardQuery } from './shard-read.ts'

/** A merged cohort with its devices' weights over the range (merged over the shards). */
export interface WeighedCohort {
  id: string
  total: Aggregate
  points: PointJson[]
  weights: DDSketch
  estWeights: DDSketch
}

/** A cohort's figures with per-device caps applied, in total and per point (same order as its points). */
export interface CohortFigures {
  capped: CappedFigures
  points: Figures[]
}

/** Merges a shard's weight sketch into `into`; a sketch that does not decode is left out (the cap then rests on the rest). */
export function mergeWeights(into: DDSketch, json: SketchJson | undefined): void {
  if (json === undefined) return
  try {
    into.merge(parseSketch(json))
  } catch {
    // Left out.
  }
}

/**
 * Per-device caps over a fleet read (core/telemetry/device-caps.ts): each cohort's cap is `factor` ×
 * the median of its devices' weights (merged over every shard), the estimate cap likewise on estimated
 * weights. Only when some device is above a cap does a second round ask every shard what to take
 * away for its devices above it; figures are then the cohort's own minus that, in total and per point.
 */
export async function capCohorts(
  env: Env,
  model: string,
  q: ShardQuery,
  shards: number,
  cohorts: readonly WeighedCohort[],
  factor: number,
): Promise<Map<string, CohortFigures>> {
  const caps: CohortCap[] = []
  const out = new Map<string, CohortFigures>()
  for (const c of cohorts) {
    const cap = weightCap(c.weights, factor)
    const estCap = weightCap(c.estWeights, factor)
    out.set(c.id, {
      capped: { figures: figuresOf(c.total), devices: 0, cap: Number.isFinite(cap) ? cap : null },
      points: c.points.map(figuresOfPoint),
    })
    if ((c.weights.max ?? 0) > cap || (c.estWeights.max ?? 0) > estCap) caps.push({ cohort: c.id, cap, estCap })
  }
  if (caps.length === 0) return out
  const parts: CohortExcess[][] = await Promise.all(
    Array.from({ length: shards }, (_, i) => shardStub(env, model, i).excess(q, caps)),
  )
  for (const c of cohorts) {
    const figures = out.get(c.id)!
    const total = noFigures()
    const points = c.points.map(() => noFigures())
    for (const part of parts) {
      for (const e of part) {
        if (e.cohort !== c.id) continue
        try {
          const excess = decodeFigures(e.total)
          const perPoint = e.points.map((p) => ({ ...p, excess: decodeFigures(p.excess) }))
          addFigures(total, excess)
          for (const p of perPoint) {
            const i = c.points.findIndex((x) => x.start <= p.start && p.end <= x.end)
            if (i >= 0) addFigures(points[i], p.excess)
          }
          figures.capped.devices += e.devices
        } catch {
          // A shard's excess that does not decode leaves its devices uncapped.
        }
      }
    }
    subtractFigures(figures.capped.figures, total)
    figures.points.forEach((f, i) => subtractFigures(f, points[i]))
  }
  return out
}
