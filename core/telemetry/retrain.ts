import type { CohortMetrics, DriftSummary } from '../formats/fleet.ts'
import type { Condition, When } from '../formats/policy.ts'
import type { FeatureQuality } from '../formats/quality.ts'
import { qualityRateAbove, qualityView } from './quality.ts'

/**
 * Retraining decisions, pure: which windows a policy needs, whether its `when` holds on their
 * metrics, and when to look next. The caller (ModelControl) reads and merges the windows, applies
 * the cooldown and records the firing. Windows are UTC-aligned: [k·W, (k+1)·W) in ms.
 */

/** One closed window of `minutes`. */
export interface PolicyWindow {
  minutes: number
  start: number
  end: number
}

/** What one condition saw in one window. */
export interface WindowEvidence {
  start: number
  end: number
  devices: number | null
  reports: number | null
  inferences: number | null
  /** The metric the condition judged (a drift summary, an accuracy, an error rate, a quality rate). */
  value: DriftSummary | number | null
  holds: boolean
}

/** The verdict of one condition, with its evidence. */
export interface ConditionResult {
  condition: ConditionKind
  met: boolean
  /** `met`, `not_met` or `insufficient_data` (a window lacked devices, labels or inferences). */
  reason: 'met' | 'not_met' | 'insufficient_data'
  message: string
  /** The feature or output that drifted, for the drift conditions; the worst feature of the last window, for `qualityRateAbove`. */
  name?: string
  windows: WindowEvidence[]
}

/** The verdict of a whole `when`. */
export interface PolicyResult {
  met: boolean
  reason: string
  conditions: ConditionResult[]
}

/** Metrics of a window, or null when nothing (or too few devices to show) was reported. */
export type WindowLookup = (w: PolicyWindow) => CohortMetrics | null

/** The kinds of condition a policy can hold. */
export type ConditionKind =
  | 'anyFeatureDrifted'
  | 'anyOutputDrifted'
  | 'accuracyBelow'
  | 'errorRateAbove'
  | 'qualityRateAbove'
  | 'estimatedAccuracyBelow'

/** The conditions of `when`, flattened. */
export function conditionsOf(when: When): Condition[] {
  if ('any' in when) return when.any
  if ('all' in when) return when.all
  return [when]
}

/** The last `count` closed windows of `minutes` at `now`, oldest first (a window closes `graceMs` after its end). */
export function closedWindows(minutes: number, count: number, now: number, graceMs: number): PolicyWindow[] {
  const w = minutes * 60_000
  const boundary = Math.floor((now - graceMs) / w) * w
  return Array.from({ length: count }, (_, i) => ({
    minutes,
    start: boundary - (count - i) * w,
    end: boundary - (count - i - 1) * w,
  }))
}

/** Every window `when` needs at `now`, without duplicates. */
export function windowsToRead(when: When, now: number, graceMs: number): PolicyWindow[] {
  const seen = new Map<string, PolicyWindow>()
  for (const c of conditionsOf(when)) {
    const { windowMinutes, consecutiveWindows } = params(c)
    for (const w of closedWindows(windowMinutes, consecutiveWindows, now, graceMs))
      seen.set(`${w.minutes}:${w.start}`, w)
  }
  return [...seen.values()].sort((a, b) => a.start - b.start || a.minutes - b.minutes)
}

/** When the next window of any condition closes after `now` (its end plus the grace). */
export function nextEvaluationAt(when: When, now: number, graceMs: number): number {
  let next = Infinity
  for (const c of conditionsOf(when)) {
    const w = params(c).windowMinutes * 60_000
    next = Math.min(next, (Math.floor((now - graceMs) / w) + 1) * w + graceMs)
  }
  return next
}

/** Judges `when` on the windows closed at `now`; `any` needs one condition met, `all` every one. */
export function evaluateWhen(when: When, lookup: WindowLookup, now: number, graceMs: number): PolicyResult {
  const conditions = conditionsOf(when).map((c) => evaluateCondition(c, lookup, now, graceMs))
  const met = 'all' in when ? conditions.every((c) => c.met) : conditions.some((c) => c.met)
  const reason = met
    ? conditions
        .filter((c) => c.met)
        .map((c) => c.message)
        .join('; ')
    : conditions.map((c) => c.message).join('; ')
  return { met, reason, conditions }
}

/** Judges one condition on its last `consecutiveWindows` closed windows. */
export function evaluateCondition(c: Condition, lookup: WindowLookup, now: number, graceMs: number): ConditionResult {
  const { windowMinutes, consecutiveWindows } = params(c)
  const windows = closedWindows(windowMinutes, consecutiveWindows, now, graceMs)
  const span = `${consecutiveWindows} consecutive ${windowMinutes}-minute window${consecutiveWindows === 1 ? '' : 's'}`
  const seen = windows.map((w) => ({ w, m: lookup(w) }))
  const base = (m: CohortMetrics | null, w: PolicyWindow) => ({
    start: w.start,
    end: w.end,
    devices: m?.devices ?? null,
    reports: m?.reports ?? null,
    inferences: m?.inferences ?? null,
  })

  if ('anyFeatureDrifted' in c || 'anyOutputDrifted' in c) {
    const [kind, p, side] =
      'anyFeatureDrifted' in c
        ? (['anyFeatureDrifted', c.anyFeatureDrifted, 'features'] as const)
        : (['anyOutputDrifted', c.anyOutputDrifted, 'outputs'] as const)
    const enough = seen.every(({ m }) => m !== null && m.devices >= p.minDevices)
    // The same name must have drifted in every window: one noisy window never fires alone.
    let common: string[] | null = null
    for (const { m } of seen) {
      const drifted = m === null ? [] : m.drift[side].filter((n) => p.names === undefined || p.names.includes(n))
      common = common === null ? drifted : common.filter((n) => drifted.includes(n))
    }
    const name = enough ? [...(common ?? [])].sort()[0] : undefined
    const evidence = seen.map(({ w, m }) => {
      const value = m === null || name === undefined ? null : (m[side][name] ?? null)
      return { ...base(m, w), value, holds: value !== null && value.drifted }
    })
    if (!enough)
      return {
        condition: kind,
        met: false,
        reason: 'insufficient_data',
        message: `${kind}: fewer than ${p.minDevices} devices in one of the last ${span}`,
        windows: evidence,
      }
    if (name === undefined)
      return {
        condition: kind,
        met: false,
        reason: 'not_met',
        message: `${kind}: no ${side === 'features' ? 'feature' : 'output'} drifted in all of the last ${span}`,
        windows: evidence,
      }
    return {
      condition: kind,
      met: true,
      reason: 'met',
      message: `${kind}: ${name} drifted in ${span}`,
      name,
      windows: evidence,
    }
  }

  if ('accuracyBelow' in c) {
    const p = c.accuracyBelow
    return judgeThreshold('accuracyBelow', seen, base, span, {
      read: (m) => (m.feedback !== null && m.feedback.labeled >= p.minLabeled ? m.feedback.accuracy : null),
      limit: p.value,
      above: false,
      quantity: 'accuracy',
      tooFew: `${p.minLabeled} labels`,
    })
  }

  if ('qualityRateAbove' in c) return evaluateQuality(c.qualityRateAbove, seen, base, span)

  if ('estimatedAccuracyBelow' in c) {
    const p = c.estimatedAccuracyBelow
    return judgeThreshold('estimatedAccuracyBelow', seen, base, span, {
      read: (m) => {
        const e = m.estimatedAccuracy ?? null
        return e !== null && e.n >= p.minPredictions ? e.value : null
      },
      limit: p.value,
      above: false,
      quantity: 'estimated accuracy',
      tooFew: `${p.minPredictions} calibrated predictions`,
    })
  }

  const p = c.errorRateAbove
  return judgeThreshold('errorRateAbove', seen, base, span, {
    read: (m) => (m.inferences >= p.minInferences ? m.errorRate : null),
    limit: p.value,
    above: true,
    quantity: 'error rate',
    tooFew: `${p.minInferences} inferences`,
  })
}

type Seen = { w: PolicyWindow; m: CohortMetrics | null }[]
type WindowBase = (m: CohortMetrics | null, w: PolicyWindow) => Omit<WindowEvidence, 'value' | 'holds'>

/**
 * A condition on one figure per window (`accuracyBelow`, `estimatedAccuracyBelow`, `errorRateAbove`):
 * met when `read` gives a value beyond `limit` (above or below) in every window; `insufficient_data`
 * when a window has too little to read (`read` gives null: fewer than `tooFew`).
 */
function judgeThreshold(
  condition: 'accuracyBelow' | 'estimatedAccuracyBelow' | 'errorRateAbove',
  seen: Seen,
  base: WindowBase,
  span: string,
  t: { read: (m: CohortMetrics) => number | null; limit: number; above: boolean; quantity: string; tooFew: string },
): ConditionResult {
  const evidence = seen.map(({ w, m }) => {
    const value = m === null ? null : t.read(m)
    return { ...base(m, w), value, holds: value !== null && (t.above ? value > t.limit : value < t.limit) }
  })
  if (evidence.some((e) => e.value === null))
    return {
      condition,
      met: false,
      reason: 'insufficient_data',
      message: `${condition}: fewer than ${t.tooFew} in one of the last ${span}`,
      windows: evidence,
    }
  const met = evidence.every((e) => e.holds)
  const side = t.above ? 'above' : 'below'
  return {
    condition,
    met,
    reason: met ? 'met' : 'not_met',
    message: `${condition}: ${t.quantity} ${met ? side : `not ${side}`} ${t.limit} in ${span}`,
    windows: evidence,
  }
}

type QualityCondition = Extract<Condition, { qualityRateAbove: unknown }>['qualityRateAbove']

/** `qualityRateAbove`: the worst watched feature's rate exceeds `value` in every window, each with at least `minRows` rows. */
function evaluateQuality(p: QualityCondition, seen: Seen, base: WindowBase, span: string): ConditionResult {
  let name: string | undefined
  const evidence = seen.map(({ w, m }) => {
    const watched: Record<string, FeatureQuality> = {}
    for (const [k, q] of Object.entries(m?.quality?.features ?? {}))
      if (p.names === undefined || p.names.includes(k)) watched[k] = q
    const view = qualityView(watched)
    const rows = Math.max(0, ...Object.values(watched).map((q) => q.rows))
    const value = rows >= p.minRows && view.worst !== null ? view.worst.rate : null
    name = view.worst?.feature
    return { ...base(m, w), value, holds: value !== null && qualityRateAbove(view, p.value) }
  })
  if (evidence.some((e) => e.value === null))
    return {
      condition: 'qualityRateAbove',
      met: false,
      reason: 'insufficient_data',
      message: `qualityRateAbove: fewer than ${p.minRows} rows with data-quality counts in one of the last ${span}`,
      windows: evidence,
    }
  const met = evidence.every((e) => e.holds)
  return {
    condition: 'qualityRateAbove',
    met,
    reason: met ? 'met' : 'not_met',
    message: `qualityRateAbove: data-quality problem rate ${met ? 'above' : 'not above'} ${p.value} in ${span}${met && name !== undefined ? ` (worst: ${name})` : ''}`,
    ...(name !== undefined ? { name } : {}),
    windows: evidence,
  }
}

/** True while a firing at `lastFiredAt` still silences the policy at `now`. */
export function inCooldown(lastFiredAt: number | null, cooldownMinutes: number, now: number): boolean {
  return lastFiredAt !== null && now < lastFiredAt + cooldownMinutes * 60_000
}

function params(c: Condition): { windowMinutes: number; consecutiveWindows: number } {
  if ('anyFeatureDrifted' in c) return c.anyFeatureDrifted
  if ('anyOutputDrifted' in c) return c.anyOutputDrifted
  if ('accuracyBelow' in c) return c.accuracyBelow
  if ('qualityRateAbove' in c) return c.qualityRateAbove
  if ('estimatedAccuracyBelow' in c) return c.estimatedAccuracyBelow
  return c.errorRateAbove
}
