/**
 * @module The burn-rate arithmetic of service-level objectives, after the "Alerting on SLOs" chapter of
 * Google's Site Reliability Workbook (multi-window, multi-burn-rate alerts). The burn rate of a window
 * is how fast it spends the error budget: the bad share of its events over the share the target
 * allows, `(bad / total) / (1 − target)`; a burn rate of 1 spends exactly the whole budget over the
 * compliance period. Two pairs of windows raise alerts, each needing its long AND its short window at
 * or above the threshold (the long one proves the burn is significant, the short one that it is still
 * going on, so an alert resets within minutes of a fix):
 *
 * - fast (page): 1 h and 5 m at ≥ 14.4, i.e. 2 % of a 30-day budget spent in one hour;
 * - slow (ticket): 6 h and 30 m at ≥ 6, i.e. 5 % of a 30-day budget spent in six hours.
 *
 * Pure: windows are given, clocks are parameters.
 */
import type { Objective, SloState } from '../formats/slo.ts'

const MINUTE = 60_000

/** The four alerting windows, shortest first. */
export const ALERT_WINDOWS = [
  { name: '5m', ms: 5 * MINUTE },
  { name: '30m', ms: 30 * MINUTE },
  { name: '1h', ms: 60 * MINUTE },
  { name: '6h', ms: 360 * MINUTE },
] as const
export type AlertWindowName = (typeof ALERT_WINDOWS)[number]['name']

/** A burn-rate alert: the state it raises, its long and short window, and the threshold both must reach. */
export interface BurnPair {
  state: Exclude<SloState, 'ok'>
  long: AlertWindowName
  short: AlertWindowName
  threshold: number
}

/** The workbook's recommended pairs, most severe first. */
export const BURN_PAIRS: readonly BurnPair[] = [
  { state: 'breached-fast', long: '1h', short: '5m', threshold: 14.4 },
  { state: 'breached-slow', long: '6h', short: '30m', threshold: 6 },
]

/** The share of good events an objective aims for: the percentile of a latency or load-time one, else its target. */
export function targetOf(o: Objective): number {
  return o.kind === 'latency' || o.kind === 'load_time' ? o.percentile / 100 : o.target
}

/** The length of a compliance period such as `28d`, in ms. */
export function periodMs(period: string): number {
  return Number(period.slice(0, -1)) * 24 * 60 * MINUTE
}

/**
 * Burn rate of a window: (bad / total) / (1 − target); null without events (nothing was burned, and
 * nothing can be judged).
 *
 * @example burnRate(30, 1000, 0.999) // 30: a 3 % error rate against a 0.1 % budget
 */
export function burnRate(bad: number, total: number, target: number): number | null {
  if (!(total > 0)) return null
  return Math.min(bad, total) / total / (1 - target)
}

/**
 * The state of an objective from the burn rates of its windows: the first pair whose long and short
 * windows both reach the threshold, else `ok` (a window without events never holds). With the reason.
 */
export function stateOf(burns: Readonly<Partial<Record<AlertWindowName, number | null>>>): {
  value: SloState
  reason: string
} {
  for (const pair of BURN_PAIRS) {
    const long = burns[pair.long] ?? null
    const short = burns[pair.short] ?? null
    if (long !== null && short !== null && long >= pair.threshold && short >= pair.threshold)
      return {
        value: pair.state,
        reason: `burn rate ${round(long)} over ${pair.long} and ${round(short)} over ${pair.short} ≥ ${pair.threshold}`,
      }
  }
  return { value: 'ok', reason: 'no burn-rate pair at its threshold' }
}

/**
 * Share of the error budget left over the compliance period: 1 − bad / ((1 − target) · total), i.e.
 * 1 − the period's burn rate. 1 untouched (also without events), 0 spent, negative overspent.
 *
 * @example budgetRemaining(5, 10_000, 0.999) // 0.5: half of the 10 allowed bad events spent
 */
export function budgetRemaining(bad: number, total: number, target: number): number {
  const burn = burnRate(bad, total, target)
  return burn === null ? 1 : 1 - burn
}

/** How severe a state is: ok < slow < fast. */
const SEVERITY: Record<SloState, number> = { ok: 0, 'breached-slow': 1, 'breached-fast': 2 }

/**
 * The event a state change records: `slo.breached` when the state becomes more severe (ok → slow or
 * fast, slow → fast), `slo.recovered` when it returns to ok; null otherwise (no change, or a fast
 * breach easing to slow: still breached, already announced).
 */
export function transitionEvent(from: SloState, to: SloState): 'slo.breached' | 'slo.recovered' | null {
  if (SEVERITY[to] > SEVERITY[from]) return 'slo.breached'
  if (to === 'ok' && from !== 'ok') return 'slo.recovered'
  return null
}

function round(x: number): number {
  return Math.round(x * 100) / 100
}
