/**
 * @module
 * The fleet view's slices (`GET /v1/models/:model/telemetry?slice=`): one dimension read from every
 * shard, merged exactly per cohort and slice value, each slice suppressed under `minDevices` devices,
 * and the largest gap between slices (docs/telemetry.md, "Slices").
 */
import type { Arm, Role } from '../../core/formats/common.ts'
import type { CohortSlices, FleetSlices, SliceDimension, SliceGap } from '../../core/formats/slices.ts'
import {
  decodeSliceAggregate,
  emptySliceAggregate,
  mergeSliceInto,
  summarizeSlice,
  type SliceAggregate,
} from '../../core/telemetry/slice-aggregate.ts'
import { largestSliceGap } from '../../core/telemetry/slice-gap.ts'
import { telemetryConfig } from './config.ts'
import { shardStub } from './ingest.ts'
import type { ShardQuery } from './shard-read.ts'

/** One cohort's slices merged over every shard. */
export interface MergedCohortSlices {
  version: number
  role: Role
  rollout: { id: string; arm: Arm } | null
  slices: Map<string, SliceAggregate>
}

/**
 * Reads one dimension from every shard in parallel and merges it per cohort and slice value
 * (devices unioned, sums added, sketches merged). Cohorts are ordered as in the fleet view.
 */
export async function readFleetSlices(
  env: Env,
  model: string,
  q: ShardQuery & { dimension: SliceDimension; rollout?: string },
): Promise<{ cohorts: MergedCohortSlices[]; skipped: number }> {
  const { shards } = telemetryConfig(env)
  const parts = await Promise.all(Array.from({ length: shards }, (_, i) => shardStub(env, model, i).slices(q)))
  const cohorts = new Map<string, MergedCohortSlices>()
  let skipped = 0
  for (const part of parts) {
    skipped += part.skipped
    for (const c of part.cohorts) {
      const id = `${c.version}|${c.role}|${c.rollout}|${c.arm}`
      let entry = cohorts.get(id)
      if (!entry) {
        entry = {
          version: c.version,
          role: c.role as Role,
          rollout: c.rollout === '' ? null : { id: c.rollout, arm: c.arm as Arm },
          slices: new Map(),
        }
        cohorts.set(id, entry)
      }
      for (const [value, json] of Object.entries(c.slices)) {
        let agg: SliceAggregate
        try {
          agg = decodeSliceAggregate(json)
        } catch {
          skipped++
          continue
        }
        const have = entry.slices.get(value)
        if (have) mergeSliceInto(have, agg)
        else entry.slices.set(value, mergeSliceInto(emptySliceAggregate(), agg))
      }
    }
  }
  const out = [...cohorts.values()]
  out.sort(
    (a, b) =>
      a.version - b.version ||
      a.role.localeCompare(b.role) ||
      (a.rollout?.id ?? '').localeCompare(b.rollout?.id ?? '') ||
      (a.rollout?.arm ?? '').localeCompare(b.rollout?.arm ?? ''),
  )
  return { cohorts: out, skipped }
}

/**
 * What `?slice=` adds to the fleet view: every cohort's slices (suppressed under `minDevices`
 * devices) with its largest gap, and `sliceGap`, the largest gap of any cohort (null when no cohort
 * has two comparable unsuppressed slices).
 */
export async function fleetSlices(
  env: Env,
  model: string,
  q: { from: number; to: number; version?: number; dimension: SliceDimension },
): Promise<{ slices: FleetSlices; sliceGap: (SliceGap & Pick<CohortSlices, 'version' | 'role' | 'rollout'>) | null }> {
  const { minDevices } = telemetryConfig(env)
  const { cohorts } = await readFleetSlices(env, model, { ...q, bucketMs: null })
  let sliceGap: (SliceGap & Pick<CohortSlices, 'version' | 'role' | 'rollout'>) | null = null
  const out: CohortSlices[] = cohorts.map((c) => {
    const slices = Object.fromEntries(
      [...c.slices].sort(([a], [b]) => (a < b ? -1 : 1)).map(([v, agg]) => [v, summarizeSlice(agg, minDevices)]),
    )
    const gap = largestSliceGap(q.dimension, slices)
    if (gap !== null && (sliceGap === null || gap.gap > sliceGap.gap))
      sliceGap = { ...gap, version: c.version, role: c.role, rollout: c.rollout }
    return { version: c.version, role: c.role, rollout: c.rollout, slices, gap }
  })
  return { slices: { dimension: q.dimension, cohorts: out }, sliceGap }
}
