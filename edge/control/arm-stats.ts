import type { Arm } from '../../core/formats/common.ts'
import type { ArmStats, ArmView, DeviceCounts, RolloutStats } from '../../core/formats/rollout.ts'
import { deviceRates, meanVariance, momentsOf } from '../../core/rollout/sequential.ts'
import { emptyAggregate } from '../../core/telemetry/aggregate.ts'
import { qualityView } from '../../core/telemetry/quality.ts'
import { calibrationVariance } from '../../core/estimate/calibration.ts'
import { estimatedAccuracy } from '../../core/estimate/estimated-accuracy.ts'
import { summarize } from '../../core/telemetry/summarize.ts'
import { telemetryConfig } from '../telemetry/config.ts'
import { readFleet } from '../telemetry/fleet.ts'
import { shardStub } from '../telemetry/ingest.ts'
import { versionId, versionProfiles } from '../telemetry/profiles.ts'
import type { DeviceStatsRow } from '../telemetry/shard-read.ts'
import { readArmSlices } from './arm-slices.ts'
import type { StoredRollout } from './rollout-store.ts'
import { crashFigures } from '../../core/telemetry/health.ts'

const MINUTE = 60_000
/** How long an isolate may serve a cached rollout config (edge/assign/rollout-cache.ts). */
export const CONFIG_CACHE_MS = 5_000

/** The ranges a step's statistics are read over (minute cells, so aligned to minutes). */
export interface StatsWindow {
  /** Guardrails and step minimums: every cell from the minute the step started. */
  from: number
  /** The sample-ratio check: from the first minute every device must hold the step's assignment. */
  settledFrom: number
  to: number
}

/** The ranges of the current step at `now`. */
export function statsWindow(r: Pick<StoredRollout, 'config' | 'state'>, now: number): StatsWindow {
  const start = r.state.stepStartedAt
  return {
    from: Math.floor(start / MINUTE) * MINUTE,
    settledFrom: Math.ceil((start + r.config.ttlSeconds * 1000 + CONFIG_CACHE_MS) / MINUTE) * MINUTE,
    to: (Math.floor(now / MINUTE) + 1) * MINUTE,
  }
}

/** The cohort of an arm: which reports count for it. */
function armCohort(r: Pick<StoredRollout, 'config'>, arm: Arm): { version: number; role: 'primary' | 'shadow' } {
  const { config } = r
  if (arm === 'baseline') return { version: config.baseline, role: 'primary' }
  // In shadow mode the candidate never answers the app: its arm is what it did in the background.
  return { version: config.candidate, role: config.mode === 'shadow' ? 'shadow' : 'primary' }
}

/**
 * The statistics `decide` needs for a rollout's current step, from the fleet telemetry shards (the
 * same aggregation the fleet view reads; no second one): per-device sums of the rollout's reports
 * (exact distinct devices: a device hashes to one shard, so shards' devices are disjoint), the
 * merged latency sketch of each arm with per-device caps applied, the candidate's largest JS
 * drift against its profile, and each arm's merged data-quality counts.
 * Reports count for an arm when they carry the rollout's id, the arm, and the arm's version and role.
 */
export async function readArmStats(
  env: Env,
  model: string,
  r: StoredRollout,
  now: number,
): Promise<{ stats: RolloutStats; window: StatsWindow; arms: Record<Arm, ArmView> }> {
  const window = statsWindow(r, now)
  const { shards } = telemetryConfig(env)
  const id = r.state.id
  const [parts, fleet, slices] = await Promise.all([
    Promise.all(
      Array.from({ length: shards }, async (_, i) => {
        const stub = shardStub(env, model, i)
        const [all, settled] = await Promise.all([
          stub.deviceStats({ from: window.from, to: window.to, rollout: id }),
          window.settledFrom < window.to
            ? stub.deviceStats({ from: window.settledFrom, to: window.to, rollout: id })
            : Promise.resolve([] as DeviceStatsRow[]),
        ])
        return { all, settled }
      }),
    ),
    // The arms' aggregates as the fleet view reads them: unreadable data left out, per-device caps applied.
    readFleet(env, model, { from: window.from, to: window.to, bucketMs: null }),
    readArmSlices(env, model, {
      rollout: id,
      from: window.from,
      to: window.to,
      guardrails: r.config.guardrails,
      cohortOf: (arm) => armCohort(r, arm),
    }),
  ])
  const profile =
    (await versionProfiles(env.DB, [{ model, version: r.config.candidate }], now)).get(
      versionId(model, r.config.candidate),
    )?.profile ?? null

  const build = (arm: Arm): { stats: ArmStats; view: ArmView } => {
    const cohort = armCohort(r, arm)
    const match = (row: { arm: string; version: number; role: string }) =>
      row.arm === arm && row.version === cohort.version && row.role === cohort.role
    const perDevice: DeviceCounts[] = []
    let settledDevices = 0
    for (const p of parts) {
      for (const row of p.all) if (match(row)) perDevice.push(toCounts(row))
      settledDevices += new Set(p.settled.filter(match).map((row) => row.device)).size
    }
    const merged = fleet.cohorts.find((c) => c.rollout?.id === id && c.rollout.arm === arm && match({ arm, ...c }))
    const agg = merged?.total ?? emptyAggregate()
    const capped = merged?.capped.figures.latency
    const driftJsMax = arm === 'candidate' && agg.reports > 0 ? maxJs(summarize(agg, profile, { minDevices: 1 })) : null
    const latency = capped !== undefined && capped.count > 0 ? capped.toJSON() : null
    const inferences = perDevice.reduce((s, d) => s + d.inferences, 0)
    const quality = agg.quality
    const worst = qualityView(quality).worst
    const stats: ArmStats = {
      devices: perDevice.length,
      settledDevices,
      inferences,
      perDevice,
      latency,
      driftJsMax,
      ...(Object.keys(quality).length > 0 ? { quality } : {}),
      ...(agg.calibrated.count > 0 ? { calibrated: { ...agg.calibrated } } : {}),
      ...(Object.keys(slices[arm]).length > 0 ? { slices: slices[arm] } : {}),
      ...(agg.reports > 0 ? { health: crashFigures(agg.health, agg.counts.loads) } : {}),
    }
    const mean = (metric: 'error_rate' | 'fallback_rate') => {
      const m = momentsOf(deviceRates(perDevice, metric))
      return m.n > 0 ? meanVariance(m).mean : null
    }
    const sum = (k: keyof DeviceCounts) => perDevice.reduce((s, d) => s + d[k], 0)
    const view: ArmView = {
      version: cohort.version,
      devices: perDevice.length,
      settledDevices,
      inferences,
      errors: sum('errors'),
      errorRate: mean('error_rate'),
      fallbackRate: mean('fallback_rate'),
      latencyP95: latency === null || capped === undefined ? null : capped.quantile(0.95),
      driftJsMax,
      shadow: { compared: sum('compared'), agreed: sum('agreed') },
      feedback: { labeled: sum('labeled'), correct: sum('correct') },
      quality: worst === null ? null : { ...worst, rows: quality[worst.feature]?.rows ?? 0 },
      estimatedAccuracy: estimatedAccuracy(
        agg.calibrated,
        profile?.calibration ? calibrationVariance(profile.calibration) : 0,
      ),
    }
    return { stats, view }
  }
  const baseline = build('baseline')
  const candidate = build('candidate')
  return {
    stats: { baseline: baseline.stats, candidate: candidate.stats },
    window,
    arms: { baseline: baseline.view, candidate: candidate.view },
  }
}

function toCounts(row: DeviceStatsRow): DeviceCounts {
  return {
    inferences: row.inferences,
    errors: row.errors,
    fallbacks: row.fallbackInferences,
    compared: row.compared,
    agreed: row.agreed,
    labeled: row.labeled,
    correct: row.correct,
  }
}

function maxJs(s: ReturnType<typeof summarize>): number | null {
  if (s.suppressed) return null
  const v = s.drift.maxJs
  return v === null ? null : Math.min(1, Math.max(0, v))
}
