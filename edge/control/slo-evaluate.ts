/**
 * @module Reads what a model's SLOs are judged on: for each alerting window (5 m, 30 m, 1 h, 6 h) and
 * the compliance period, the fleet telemetry of the production version (role `primary`, every backend
 * and rollout arm) merged over every shard, turned into each objective's bad and all events and burn
 * rate. The states and events are decided by the caller (ModelControl) with core/slo.
 */
import type { Objective, ObjectiveStatus, SloConfig, WindowBurn } from '../../core/formats/slo.ts'
import { ALERT_WINDOWS, budgetRemaining, burnRate, periodMs, targetOf } from '../../core/slo/burn-rate.ts'
import { eventsOf, type WindowFigures } from '../../core/slo/indicator.ts'
import { mergeAggregates } from '../../core/telemetry/aggregate.ts'
import { DeviceSet } from '../../core/telemetry/device-set.ts'
import { getAlias } from '../db/aliases.ts'
import { telemetryConfig } from '../telemetry/config.ts'
import { cappedTogether, readFleet } from '../telemetry/fleet.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE

/**
 * Windows end this long before the evaluation, on a minute boundary: devices flush every minute, so
 * the minute that just closed is still arriving; the one before it is complete.
 */
export const SLO_LAG_MS = MINUTE

/** What one evaluation read: the version judged and each objective's windows and budget (states apart). */
export interface SloReading {
  version: number | null
  /** Where the alerting windows end (ms, a minute boundary). */
  end: number
  objectives: Omit<ObjectiveStatus, 'state' | 'since'>[]
}

/** The figures of one range, or null below the k-anonymity threshold. */
interface RangeFigures {
  devices: number
  figures: WindowFigures | null
}

/** The end of the alerting windows of an evaluation at `now`: the last complete minute. */
export function windowsEnd(now: number): number {
  return Math.floor((now - SLO_LAG_MS) / MINUTE) * MINUTE
}

/** Reads the windows and the compliance period of `slo` at `now` (one fleet read each, in parallel). */
export async function readSlo(env: Env, model: string, slo: SloConfig, now: number): Promise<SloReading> {
  const version = await getAlias(env.DB, model, 'production')
  const cfg = telemetryConfig(env)
  const end = windowsEnd(now)
  // The period starts on an hour (older telemetry is kept in hours) and no earlier than what is kept.
  const kept = Math.ceil((now - cfg.retentionMs) / HOUR) * HOUR
  const from = Math.max(Math.floor((end - periodMs(slo.period)) / HOUR) * HOUR, kept)
  // The alerting windows, shortest first, then the compliance period.
  const starts = [...ALERT_WINDOWS.map((w) => end - w.ms), from]
  const read = async (start: number): Promise<RangeFigures> => {
    if (version === null) return { devices: 0, figures: null }
    const { cohorts } = await readFleet(env, model, { from: start, to: end, version, role: 'primary', bucketMs: null })
    const total = mergeAggregates(cohorts.map((c) => c.total))
    const devices = total.devices.size
    if (devices < cfg.minDevices) return { devices, figures: null }
    const fellBack = new DeviceSet()
    for (const set of Object.values(total.fallbacks)) fellBack.union(set)
    const f = cappedTogether(cohorts).figures
    return {
      devices,
      figures: {
        inferences: f.inferences,
        errors: f.errors,
        latency: f.latency,
        loadMs: f.loadMs,
        devices,
        fellBack: fellBack.size,
      },
    }
  }
  const figures = await Promise.all(starts.map(read))
  const objectives = slo.objectives.map((o) => {
    const windows: WindowBurn[] = ALERT_WINDOWS.map((w, i) => windowBurn(o, w.name, end - w.ms, end, figures[i]))
    const period = figures[figures.length - 1]
    const events = period.figures ? eventsOf(o, period.figures) : null
    const target = targetOf(o)
    return {
      name: o.name,
      kind: o.kind,
      target,
      windows,
      budget: {
        from,
        to: end,
        bad: events?.bad ?? 0,
        total: events?.total ?? 0,
        remaining: events ? budgetRemaining(events.bad, events.total, target) : null,
      },
    }
  })
  return { version, end, objectives }
}

function windowBurn(o: Objective, window: string, start: number, end: number, r: RangeFigures): WindowBurn {
  if (!r.figures) return { window, start, end, suppressed: true, bad: 0, total: 0, devices: 0, burnRate: null }
  const { bad, total } = eventsOf(o, r.figures)
  return {
    window,
    start,
    end,
    suppressed: false,
    bad,
    total,
    devices: r.devices,
    burnRate: burnRate(bad, total, targetOf(o)),
  }
}
