import type { CohortMetrics } from '../../core/formats/fleet.ts'
import type { RetrainPolicy } from '../../core/formats/policy.ts'
import { mergeAggregates } from '../../core/telemetry/aggregate.ts'
import { evaluateWhen, windowsToRead, type PolicyResult, type PolicyWindow } from '../../core/telemetry/retrain.ts'
import { summarize } from '../../core/telemetry/summarize.ts'
import { getAlias } from '../db/aliases.ts'
import { telemetryConfig } from '../telemetry/config.ts'
import { cappedTogether, readFleet } from '../telemetry/fleet.ts'
import { versionId, versionProfiles } from '../telemetry/profiles.ts'

/** A policy judged on the fleet at one moment: the version watched and the verdict with its evidence. */
export interface PolicyEvaluation {
  version: number | null
  result: PolicyResult
}

/**
 * Judges a retraining policy on the merged fleet view: for each window the policy needs, every
 * shard's `primary` reports of the watched version (all rollout arms) are merged into one aggregate
 * and summarized against the version's profile (windows below the k-anonymity threshold count as
 * missing data); the verdict is core's `evaluateWhen`.
 */
export async function evaluatePolicy(
  env: Env,
  model: string,
  policy: RetrainPolicy,
  now: number,
): Promise<PolicyEvaluation> {
  const version = policy.version ?? (await getAlias(env.DB, model, 'production'))
  const graceMs = policy.graceMinutes * 60_000
  if (version === null)
    return {
      version,
      result: { met: false, reason: `model "${model}" has no production version to watch`, conditions: [] },
    }
  const cfg = telemetryConfig(env)
  const profile =
    (await versionProfiles(env.DB, [{ model, version }], now)).get(versionId(model, version))?.profile ?? null
  const key = (w: PolicyWindow) => `${w.minutes}:${w.start}`
  const seen = new Map<string, CohortMetrics | null>()
  await Promise.all(
    windowsToRead(policy.when, now, graceMs).map(async (w) => {
      const { cohorts } = await readFleet(env, model, {
        from: w.start,
        to: w.end,
        version,
        role: 'primary',
        bucketMs: null,
      })
      const summary = summarize(mergeAggregates(cohorts.map((c) => c.total)), profile, {
        minDevices: cfg.minDevices,
        capped: cappedTogether(cohorts),
      })
      seen.set(key(w), summary.suppressed ? null : summary)
    }),
  )
  return { version, result: evaluateWhen(policy.when, (w) => seen.get(key(w)) ?? null, now, graceMs) }
}
