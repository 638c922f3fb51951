/**
 * @module
 * The fleet's side of telemetry: the processor started with the fleet's settings (queue in the SDK's
 * database, transport to the edge, optional local DP), and how a loaded version or a changed
 * assignment becomes the report target its counts are filed under.
 */
import type { Assignment } from '../../core/formats/assignment.ts'
import type { Batch } from '../../core/formats/telemetry.ts'
import type { LoadResult, StatsDelta } from '../../worker/protocol.ts'
import type { SdkDb } from '../db.ts'
import type { DpOptions } from './dp-options.ts'
import { DpBudget } from './dp.ts'
import { TelemetryProcessor } from './processor.ts'
import { TelemetryQueue } from './queue.ts'
import type { ReportTarget } from './report-builder.ts'
import { createTransport } from './transport.ts'

/** The SDK version telemetry batches carry as `device.sdk`. */
export const SDK_VERSION = '0.1.0'

/** What the fleet gives its telemetry. */
export interface FleetTelemetrySettings {
  db: SdkDb
  endpoint: string
  appKey: string
  fetch?: typeof fetch
  /** Asks the worker for a model's delta since the previous call. */
  collect(key: string): Promise<StatsDelta>
  /** The device as batches describe it, without `sdk` (added here). */
  device(): Promise<Omit<Batch['device'], 'sdk'>>
  random: () => number
  /** Local differential privacy on histograms, resolved; off when absent. */
  dp?: Required<DpOptions>
}

/** A telemetry processor with the fleet's queue, transport and DP settings. */
export function startTelemetry(s: FleetTelemetrySettings): TelemetryProcessor {
  return new TelemetryProcessor({
    queue: new TelemetryQueue(s.db),
    transport: createTransport({ endpoint: s.endpoint, appKey: s.appKey, fetch: s.fetch }),
    collect: s.collect,
    device: async () => ({ ...(await s.device()), sdk: SDK_VERSION }),
    random: s.random,
    ...(s.dp
      ? {
          dp: {
            epsilon: s.dp.epsilon,
            clip: s.dp.clip,
            budget: new DpBudget(s.db, s.dp.dailyBudget),
            random: s.random,
          },
        }
      : {}),
  })
}

/** The rollout label of an assignment, as reports carry it. */
function rolloutOf(assignment: Assignment): ReportTarget['rollout'] {
  return assignment.rollout ? { id: assignment.rollout.id, arm: assignment.rollout.arm } : undefined
}

/** Where the counts of a version loaded for `assignment` are reported. */
export function reportTarget(assignment: Assignment, result: LoadResult): ReportTarget {
  const rollout = rolloutOf(assignment)
  return {
    model: assignment.model,
    version: assignment.version,
    role: assignment.role,
    ...(rollout ? { rollout } : {}),
    backend: result.backend,
    fallbacks: result.fallbacks,
    ...(assignment.variant === undefined ? {} : { variant: assignment.variant }),
  }
}

/**
 * Files a loaded version's further counts under the rollout label of a changed assignment of the same
 * version (a rollout that started or ended on it); nothing when the label is unchanged.
 */
export async function relabel(telemetry: TelemetryProcessor, key: string, assignment: Assignment): Promise<void> {
  const target = telemetry.targetOf(key)
  if (!target) return
  const next = rolloutOf(assignment)
  if (target.rollout?.id === next?.id && target.rollout?.arm === next?.arm) return
  const { rollout: _previous, ...rest } = target
  await telemetry.retarget(key, next ? { ...rest, rollout: next } : rest)
}
