import type { Arm, Role } from '../../core/formats/common.ts'
import type { FleetCohort, FleetView, Granularity } from '../../core/formats/fleet.ts'
import { decodeAggregate, mergeInto, emptyAggregate, type Aggregate } from '../../core/telemetry/aggregate.ts'
import { SKETCH_DEFAULT_ALPHA } from '../../core/formats/sketch.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import { parseSketch } from '../../core/sketch/parse.ts'
import { combinePoints, summarizePoint, type PointJson } from '../../core/telemetry/series.ts'
import { addFigures, noFigures, type Figures } from '../../core/telemetry/figures.ts'
import { summarize, type CappedFigures } from '../../core/telemetry/summarize.ts'
import { telemetryConfig } from './config.ts'
import { capCohorts, mergeWeights, type WeighedCohort } from './fleet-caps.ts'
import { shardStub } from './ingest.ts'
import { versionId, versionProfiles } from './profiles.ts'
import { readRefusals } from './refusals.ts'
import type { ShardQuery } from './shard-read.ts'
import { rollupCutoff } from './shard-store.ts'

/** One cohort merged over every shard. */
export interface MergedCohort {
  version: number
  role: Role
  rollout: { id: string; arm: Arm } | null
  total: Aggregate
  points: PointJson[]
  /** The figures behind its rates, quantiles and estimates with per-device caps applied. */
  capped: CappedFigures
  /** The same per point (in the order of `points`). */
  pointFigures: Figures[]
}

/** A fleet read: the merged cohorts, and the stored cells and raw rows left out because they could not be read. */
export interface FleetRead {
  cohorts: MergedCohort[]
  skipped: number
  /** Reports the model's devices dropped before sending, per reason, summed over the shards. */
  deviceDropped: Record<string, number>
}

/**
 * Reads every shard of a model in parallel (one RPC each: size the shard count against the
 * subrequest limit) and merges them exactly: totals with `mergeInto` (device sets unioned), series
 * points with `combinePoints`. Cohorts are ordered by version, role, rollout id and arm. Never fails
 * on stored data: what a shard could not read, or what cannot merge here, is left out and counted.
 * Rates, quantiles and estimates come with per-device caps applied (edge/telemetry/fleet-caps.ts).
 */
export async function readFleet(env: Env, model: string, q: ShardQuery): Promise<FleetRead> {
  const { shards, deviceCapFactor } = telemetryConfig(env)
  const parts = await Promise.all(Array.from({ length: shards }, (_, i) => shardStub(env, model, i).read(q)))
  let skipped = 0
  const deviceDropped: Record<string, number> = {}
  type Entry = Omit<MergedCohort, 'points' | 'capped' | 'pointFigures'> & WeighedCohort
  const cohorts = new Map<string, Entry>()
  for (const part of parts) {
    skipped += part.skipped
    for (const [reason, n] of Object.entries(part.deviceDropped ?? {}))
      deviceDropped[reason] = (deviceDropped[reason] ?? 0) + n
    for (const s of part.cohorts) {
      const id = `${s.version}|${s.role}|${s.rollout}|${s.arm}`
      let entry = cohorts.get(id)
      if (!entry) {
        const rollout = s.rollout === '' ? null : { id: s.rollout, arm: s.arm as Arm }
        entry = {
          id,
          version: s.version,
          role: s.role as Role,
          rollout,
          total: emptyAggregate(),
          points: [],
          weights: new DDSketch(),
          estWeights: new DDSketch(),
        }
        cohorts.set(id, entry)
      }
      try {
        mergeInto(entry.total, decodeAggregate(s.total))
      } catch {
        skipped++
        continue
      }
      entry.points.push(...s.points.filter((p) => readablePoint(p) || (skipped++, false)))
      mergeWeights(entry.weights, s.weights?.weights)
      mergeWeights(entry.estWeights, s.weights?.estWeights)
    }
  }
  const weighed = [...cohorts.values()].map((c) => ({ ...c, points: combinePoints(c.points) }))
  const figures = await capCohorts(env, model, q, shards, weighed, deviceCapFactor)
  const out: MergedCohort[] = weighed.map(({ id, version, role, rollout, total, points }) => ({
    version,
    role,
    rollout,
    total,
    points,
    capped: figures.get(id)!.capped,
    pointFigures: figures.get(id)!.points,
  }))
  out.sort(
    (a, b) =>
      a.version - b.version ||
      a.role.localeCompare(b.role) ||
      (a.rollout?.id ?? '').localeCompare(b.rollout?.id ?? '') ||
      (a.rollout?.arm ?? '').localeCompare(b.rollout?.arm ?? ''),
  )
  return { cohorts: out, skipped, deviceDropped }
}

/**
 * The capped figures of several cohorts together (e.g. every arm of a version): sums added, sketches
 * merged; estimates where some cohort was sampled, the received totals of those that were not.
 */
export function cappedTogether(cohorts: readonly MergedCohort[]): CappedFigures {
  const sampled = cohorts.some((c) => c.capped.figures.estimated !== null)
  const figures = noFigures()
  let devices = 0
  for (const c of cohorts) {
    const f = c.capped.figures
    const { counts, reports } = c.total
    const received = { devices: c.total.devices.size, reports, inferences: counts.inferences, errors: counts.errors }
    addFigures(figures, { ...f, estimated: f.estimated ?? (sampled ? received : null) })
    devices += c.capped.devices
  }
  return { figures, devices, cap: null }
}

/** A point whose sketches decode (points come from shards' own aggregates; this guards the merge). */
function readablePoint(p: PointJson): boolean {
  try {
    return parseSketch(p.latency).alpha === SKETCH_DEFAULT_ALPHA && parseSketch(p.loadMs).alpha === SKETCH_DEFAULT_ALPHA
  } catch {
    return false
  }
}

/** The bucket width of a granularity. */
export function bucketMs(granularity: Granularity): number {
  return granularity === 'minute' ? 60_000 : 3_600_000
}

/**
 * The fleet view of a model over [from, to) (already aligned): every cohort summarized against its
 * version's profile, cohorts and points with fewer than `TELEMETRY_MIN_DEVICES` devices suppressed.
 */
export async function fleetView(
  env: Env,
  model: string,
  q: { from: number; to: number; version?: number; granularity: Granularity },
  now = Date.now(),
): Promise<FleetView> {
  const cfg = telemetryConfig(env)
  const hourBefore = rollupCutoff(now, cfg.rollupAfterMs)
  const {
    cohorts: merged,
    skipped,
    deviceDropped,
  } = await readFleet(env, model, {
    from: q.from,
    to: q.to,
    version: q.version,
    bucketMs: bucketMs(q.granularity),
    hourBefore,
  })
  const refusals = await readRefusals(env, { from: q.from, to: q.to, model })
  const lookups = await versionProfiles(
    env.DB,
    [...new Set(merged.map((m) => m.version))].map((version) => ({ model, version })),
    now,
  )
  const cohorts: FleetCohort[] = merged.map((m) => ({
    version: m.version,
    role: m.role,
    rollout: m.rollout,
    total: summarize(m.total, lookups.get(versionId(model, m.version))?.profile ?? null, {
      minDevices: cfg.minDevices,
      capped: m.capped,
    }),
    series: m.points.map((p, i) =>
      summarizePoint(
        p,
        cfg.minDevices,
        m.pointFigures[i],
        lookups.get(versionId(model, m.version))?.profile?.calibration,
      ),
    ),
  }))
  return {
    model,
    from: q.from,
    to: q.to,
    granularity: q.granularity,
    minDevices: cfg.minDevices,
    generatedAt: now,
    cohorts,
    skipped,
    refused: Object.fromEntries(refusals.map((r) => [r.reason, r.count])),
    deviceDropped,
  }
}
