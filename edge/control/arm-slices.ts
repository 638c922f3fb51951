/**
 * @module
 * The per-slice counts of a rollout's arms that the `slice_gap` guardrail compares
 * (core/rollout/decide.ts), read from the same slice cells as the fleet view's `?slice=`.
 */
import type { Arm } from '../../core/formats/common.ts'
import type { ArmStats, Guardrail } from '../../core/formats/rollout.ts'
import type { SliceCounts, SliceDimension } from '../../core/formats/slices.ts'
import { readFleetSlices } from '../telemetry/slice-view.ts'

/**
 * For every dimension a `slice_gap` guardrail names, each arm's counts per slice value over
 * [from, to): reports of the rollout carrying the arm, the arm's version and role.
 */
export async function readArmSlices(
  env: Env,
  model: string,
  q: {
    rollout: string
    from: number
    to: number
    guardrails: readonly Guardrail[]
    cohortOf: (arm: Arm) => { version: number; role: string }
  },
): Promise<Record<Arm, NonNullable<ArmStats['slices']>>> {
  const out: Record<Arm, NonNullable<ArmStats['slices']>> = { baseline: {}, candidate: {} }
  const dimensions = new Set<SliceDimension>()
  for (const g of q.guardrails) if (g.metric === 'slice_gap') dimensions.add(g.dimension)
  await Promise.all(
    [...dimensions].map(async (dimension) => {
      const { cohorts } = await readFleetSlices(env, model, {
        from: q.from,
        to: q.to,
        bucketMs: null,
        dimension,
        rollout: q.rollout,
      })
      for (const arm of ['baseline', 'candidate'] as const) {
        const want = q.cohortOf(arm)
        const counts: Record<string, SliceCounts> = {}
        const c = cohorts.find(
          (c) =>
            c.rollout?.id === q.rollout && c.rollout.arm === arm && c.version === want.version && c.role === want.role,
        )
        for (const [value, agg] of c?.slices ?? []) {
          const { inferences, errors, labeled, correct } = agg
          counts[value] = { devices: Math.round(agg.devices.size), inferences, errors, labeled, correct }
        }
        out[arm][dimension] = counts
      }
    }),
  )
  return out
}
