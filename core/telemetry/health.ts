import type { HealthCounts } from '../formats/health.ts'
import { HEALTH_KINDS } from '../health-kinds.ts'
import { addCount } from './saturating.ts'

/**
 * @module Device health of a cohort (docs/device-health.md): the merged counts, and the crash rate
 * the fleet view shows and the `crash_rate` guardrail judges.
 */

/** No health event: the identity of `mergeHealth`. */
export function emptyHealth(): HealthCounts {
  return { deviceLost: 0, oomLoad: 0, oomRun: 0, workerCrash: 0, loadAbandoned: 0 }
}

/** Adds `source` into `target` kind by kind (exact, saturating at 2^53 − 1) and returns `target`. */
export function mergeHealth(target: HealthCounts, source: HealthCounts): HealthCounts {
  for (const k of HEALTH_KINDS) target[k] = addCount(target[k], source[k])
  return target
}

/** True when no event was counted (such counts are left out of stored aggregates). */
export function isHealthEmpty(h: HealthCounts): boolean {
  return HEALTH_KINDS.every((k) => h[k] === 0)
}

/** Crash-like events and the sessions they are counted against. */
export interface CrashFigures {
  /** deviceLost + oomLoad + oomRun + workerCrash + loadAbandoned. */
  crashes: number
  /** loads + loadAbandoned: every load that finished (well or not) plus every one a dead page left. */
  sessions: number
}

/** The crash figures of merged health counts and the cohort's load count. */
export function crashFigures(h: HealthCounts, loads: number): CrashFigures {
  let crashes = 0
  for (const k of HEALTH_KINDS) crashes = addCount(crashes, h[k])
  return { crashes, sessions: addCount(loads, h.loadAbandoned) }
}

/**
 * crashRate = crashes / sessions (see `CrashFigures`), read as 1 above 1 (a session can crash more
 * than once: a lost device, then an OOM on the fallback), null without sessions.
 */
export function crashRate(f: CrashFigures): number | null {
  return f.sessions > 0 ? Math.min(1, f.crashes / f.sessions) : null
}

/** The fleet view's `health` of a cohort: the counts, the crash figures and the crash rate. */
export function healthView(h: HealthCounts, loads: number): HealthCounts & CrashFigures & { crashRate: number | null } {
  const f = crashFigures(h, loads)
  return { ...h, ...f, crashRate: crashRate(f) }
}
