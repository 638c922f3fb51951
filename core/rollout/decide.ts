import type {
  ArmStats,
  CrashRateGuardrail,
  DataQualityGuardrail,
  EstimatedAccuracyGuardrail,
  Guardrail,
  RateGuardrail,
  RateMetric,
  RateMoments,
  Rollout,
  RolloutAction,
  RolloutStats,
  RolloutStep,
  SliceGapGuardrail,
} from '../formats/rollout.ts'
import { parseSketch } from '../sketch/parse.ts'
import { cappedSum, weightCapOf } from '../telemetry/device-caps.ts'
import { dataQualityGuardrail, qualityView } from '../telemetry/quality.ts'
import { compareSlices } from '../telemetry/slice-gap.ts'
import { deviceRates, meanVariance, mixtureSprt, momentsOf, type SequentialResult } from './sequential.ts'
import { sampleRatio, type SrmResult } from './srm.ts'

/** Why `decide` chose its action. Guardrail breaches read `guardrail:<metric>`. */
export type DecisionReason =
  | 'paused'
  | 'rolled_back'
  | 'promoted'
  | 'invalid_step'
  | `guardrail:${Guardrail['metric']}`
  | 'srm'
  | 'insufficient_devices'
  | 'insufficient_inferences'
  | 'insufficient_time'
  | 'ab_needs_manual_decision'
  | 'step_complete'
  | 'last_step_complete'

/** One guardrail's verdict with its statistics. */
export interface GuardrailResult {
  metric: Guardrail['metric']
  status: 'ok' | 'breach' | 'not_judged'
  /** For `not_judged`: what was missing. */
  reason:
    | 'judged'
    | 'insufficient_devices'
    | 'insufficient_labels'
    | 'insufficient_predictions'
    | 'insufficient_sessions'
    | 'no_data'
  /** The judged quantity: rate estimate, p95 ratio, JS, accuracy ratio. */
  value: number | null
  /** The configured bound (margin, maxRatio, max, minRatio). */
  limit: number
  /** Rate guardrails: the sequential test (α already split). */
  test?: SequentialResult
  /** For `data_quality`: the candidate's worst input feature. */
  feature?: string
  /** For `slice_gap`: the slice where the candidate does worst against the baseline. */
  slice?: { dimension: string; value: string }
  stats: Record<string, number | null>
}

/** Progress of the current step against its minimums (arms expected to be empty are exempt). */
export interface StepProgress {
  step: number
  percent: number
  minutes: number
  devices: { baseline: number; candidate: number }
  inferences: { baseline: number; candidate: number }
  required: RolloutStep
}

/** The decision: an action, why, and the statistics it rests on. */
export interface RolloutDecision {
  action: RolloutAction
  reason: DecisionReason
  evidence: { guardrails: GuardrailResult[]; srm: SrmResult | null; step: StepProgress | null }
}

/**
 * What a rollout does next, as a pure function of its config and state, the per-arm statistics and
 * the clock. In order: a paused, rolled-back or promoted rollout holds; any guardrail breach rolls
 * back (the first breached, in config order, is the reason); a sample-ratio mismatch pauses; then
 * the step's minimum devices, inferences and minutes (per arm) hold; a met step advances, the last
 * one promotes, and an `ab` rollout never moves on its own.
 *
 * @example decide(Rollout.parse(r), RolloutStats.parse(s), Date.now()) // {action: 'hold', reason: 'insufficient_devices', …}
 */
export function decide(rollout: Rollout, stats: RolloutStats, now: number): RolloutDecision {
  const { config, state } = rollout
  const empty = { guardrails: [], srm: null, step: null }
  if (state.status !== 'running') return { action: 'hold', reason: state.status, evidence: empty }
  const step = config.steps[state.step]
  if (step === undefined) return { action: 'hold', reason: 'invalid_step', evidence: empty }

  const rateCount = config.guardrails.filter(isRate).length
  const alphaEach = rateCount > 0 ? config.alpha / rateCount : config.alpha // Bonferroni over the tests that spend α
  const guardrails = config.guardrails.map((g) => judgeGuardrail(g, stats, step, alphaEach))
  const srm = sampleRatio(
    config,
    state.step,
    state.stepStartedAt,
    {
      baseline: stats.baseline.settledDevices ?? stats.baseline.devices,
      candidate: stats.candidate.settledDevices ?? stats.candidate.devices,
    },
    now,
  )
  const progress: StepProgress = {
    step: state.step,
    percent: step.percent,
    minutes: Math.max(0, (now - state.stepStartedAt) / 60_000),
    devices: { baseline: stats.baseline.devices, candidate: stats.candidate.devices },
    inferences: { baseline: stats.baseline.inferences, candidate: stats.candidate.inferences },
    required: step,
  }
  const evidence = { guardrails, srm, step: progress }

  const breach = guardrails.find((g) => g.status === 'breach')
  if (breach) return { action: 'rollback', reason: `guardrail:${breach.metric}`, evidence }
  if (srm.srm) return { action: 'pause', reason: 'srm', evidence }

  const arms = baselineExpected(step) ? (['baseline', 'candidate'] as const) : (['candidate'] as const)
  if (arms.some((a) => stats[a].devices < step.minDevices))
    return { action: 'hold', reason: 'insufficient_devices', evidence }
  if (arms.some((a) => stats[a].inferences < step.minInferences))
    return { action: 'hold', reason: 'insufficient_inferences', evidence }
  if (progress.minutes < step.minMinutes) return { action: 'hold', reason: 'insufficient_time', evidence }
  if (config.mode === 'ab') return { action: 'hold', reason: 'ab_needs_manual_decision', evidence }
  if (state.step === config.steps.length - 1) return { action: 'promote', reason: 'last_step_complete', evidence }
  return { action: 'advance', reason: 'step_complete', evidence }
}

/** Judges one guardrail on both arms; `alpha` is this guardrail's share for rate tests. */
export function judgeGuardrail(g: Guardrail, stats: RolloutStats, step: RolloutStep, alpha: number): GuardrailResult {
  if (isRate(g)) return judgeRate(g, stats, alpha)
  const { baseline, candidate } = stats
  if (g.metric === 'latency_p95') {
    const limit = g.maxRatio
    const b = p95(baseline)
    const c = p95(candidate)
    const sampleStats = {
      baselineP95: b,
      candidateP95: c,
      baselineDevices: baseline.devices,
      candidateDevices: candidate.devices,
    }
    if (baseline.devices < step.minDevices || candidate.devices < step.minDevices)
      return notJudged(g.metric, 'insufficient_devices', limit, sampleStats)
    if (b === null || c === null || b <= 0) return notJudged(g.metric, 'no_data', limit, sampleStats)
    const ratio = c / b
    return judged(g.metric, ratio > limit, ratio, limit, sampleStats)
  }
  if (g.metric === 'drift_js_max') {
    const sampleStats = { candidateDevices: candidate.devices }
    if (candidate.devices < step.minDevices) return notJudged(g.metric, 'insufficient_devices', g.max, sampleStats)
    if (candidate.driftJsMax === null) return notJudged(g.metric, 'no_data', g.max, sampleStats)
    const v = candidate.driftJsMax
    return judged(g.metric, v > g.max, v, g.max, sampleStats)
  }
  if (g.metric === 'data_quality') return judgeDataQuality(g, stats, step)
  if (g.metric === 'estimated_accuracy') return judgeEstimatedAccuracy(g, stats)
  if (g.metric === 'slice_gap') return judgeSliceGap(g, stats)
  if (g.metric === 'crash_rate') return judgeCrashRate(g, stats, step)
  const b = labels(baseline)
  const c = labels(candidate)
  const sampleStats = {
    baselineLabeled: b.labeled,
    baselineCorrect: b.correct,
    candidateLabeled: c.labeled,
    candidateCorrect: c.correct,
  }
  if (b.labeled < g.minLabeled || c.labeled < g.minLabeled)
    return notJudged(g.metric, 'insufficient_labels', g.minRatio, sampleStats)
  const bAcc = b.correct / b.labeled
  if (bAcc === 0) return notJudged(g.metric, 'no_data', g.minRatio, sampleStats)
  const ratio = c.correct / c.labeled / bAcc
  return judged(g.metric, ratio < g.minRatio, ratio, g.minRatio, sampleStats)
}

/**
 * `estimated_accuracy`: the ratio of the arms' estimated accuracies (Σ calibrated confidence / count,
 * each against its own version's map), once both arms have `minPredictions` calibrated predictions.
 */
function judgeEstimatedAccuracy(g: EstimatedAccuracyGuardrail, stats: RolloutStats): GuardrailResult {
  const b = stats.baseline.calibrated
  const c = stats.candidate.calibrated
  const bEst = b && b.count > 0 ? b.sum / b.count : null
  const cEst = c && c.count > 0 ? c.sum / c.count : null
  const sampleStats = {
    baselinePredictions: b?.count ?? 0,
    baselineEstimate: bEst,
    candidatePredictions: c?.count ?? 0,
    candidateEstimate: cEst,
  }
  if ((b?.count ?? 0) < g.minPredictions || (c?.count ?? 0) < g.minPredictions)
    return notJudged(g.metric, 'insufficient_predictions', g.minRatio, sampleStats)
  if (bEst === null || cEst === null || bEst === 0) return notJudged(g.metric, 'no_data', g.minRatio, sampleStats)
  const ratio = cEst / bEst
  return judged(g.metric, ratio < g.minRatio, ratio, g.minRatio, sampleStats)
}

function judgeRate(g: RateGuardrail, stats: RolloutStats, alpha: number): GuardrailResult {
  const cand = rateMoments(stats.candidate, g.metric)
  const twoSample = g.maxDiff !== undefined
  const base = twoSample ? rateMoments(stats.baseline, g.metric) : null
  const limit = (g.maxDiff ?? g.max) as number
  const sampleStats: Record<string, number | null> = {
    candidateDevices: cand.n,
    candidateMean: cand.n > 0 ? meanVariance(cand).mean : null,
    baselineDevices: base?.n ?? null,
    baselineMean: base && base.n > 0 ? meanVariance(base).mean : null,
  }
  if (cand.n < g.minDevices || (base !== null && base.n < g.minDevices))
    return notJudged(g.metric, 'insufficient_devices', limit, sampleStats)
  const test = mixtureSprt(cand, base, limit, alpha, g.tau)
  return judged(g.metric, test.reject, test.estimate, limit, sampleStats, { test })
}

/**
 * `data_quality`: core's `dataQualityGuardrail` on the arms' merged counts, once the candidate (and,
 * unless `absolute`, the baseline) has the step's `minDevices` devices and quality counts for at
 * least `minRows` rows. The counts are not capped per device, so the device minimum is what keeps a
 * few devices from deciding alone.
 */
function judgeDataQuality(g: DataQualityGuardrail, stats: RolloutStats, step: RolloutStep): GuardrailResult {
  const c = qualityView(stats.candidate.quality ?? {})
  const b = g.absolute ? null : qualityView(stats.baseline.quality ?? {})
  const sampleStats = {
    candidateRows: rowsOf(stats.candidate),
    candidateRate: c.worst?.rate ?? null,
    baselineRows: g.absolute ? null : rowsOf(stats.baseline),
    baselineRate: b?.worst?.rate ?? null,
  }
  if (stats.candidate.devices < step.minDevices || (!g.absolute && stats.baseline.devices < step.minDevices))
    return notJudged(g.metric, 'insufficient_devices', g.maxRate, sampleStats)
  if (rowsOf(stats.candidate) < g.minRows || (!g.absolute && rowsOf(stats.baseline) < g.minRows))
    return notJudged(g.metric, 'no_data', g.maxRate, sampleStats)
  const verdict = dataQualityGuardrail(c, b, g.maxRate)
  // The judged quantity: the candidate's worst rate, less the baseline's unless absolute.
  return judged(
    g.metric,
    !verdict.pass,
    verdict.baseline === null ? verdict.candidate : verdict.candidate - verdict.baseline,
    g.maxRate,
    sampleStats,
    c.worst ? { feature: c.worst.feature } : {},
  )
}

/**
 * `slice_gap`: core's `compareSlices` on the arms' counts for the guardrail's dimension; the judged
 * value is the largest excess over the slices with `minDevices` devices on both arms (a fixed
 * threshold, like `latency_p95`: no sequential test, so `minDevices` is what keeps noise out).
 */
function judgeSliceGap(g: SliceGapGuardrail, stats: RolloutStats): GuardrailResult {
  const c = stats.candidate.slices?.[g.dimension] ?? {}
  const b = stats.baseline.slices?.[g.dimension] ?? {}
  const [worst] = compareSlices(c, b, g.measure, g.minDevices)
  const sampleStats = {
    candidateSlices: Object.keys(c).length,
    baselineSlices: Object.keys(b).length,
    candidateRate: worst?.candidate ?? null,
    baselineRate: worst?.baseline ?? null,
    candidateDevices: worst?.devices.candidate ?? null,
    baselineDevices: worst?.devices.baseline ?? null,
  }
  if (worst === undefined) return notJudged(g.metric, 'insufficient_devices', g.max, sampleStats)
  return judged(g.metric, worst.excess > g.max, worst.excess, g.max, sampleStats, {
    slice: { dimension: g.dimension, value: worst.slice },
  })
}

/**
 * `crash_rate`: candidate − baseline crash rate (crash-like events / sessions, docs/device-health.md),
 * once both arms have the step's `minDevices` devices and `minSessions` sessions. A fixed threshold
 * like `latency_p95`: the session minimum is what keeps a few crashes from deciding alone.
 */
function judgeCrashRate(g: CrashRateGuardrail, stats: RolloutStats, step: RolloutStep): GuardrailResult {
  const b = stats.baseline.health ?? { crashes: 0, sessions: 0 }
  const c = stats.candidate.health ?? { crashes: 0, sessions: 0 }
  const rate = (h: { crashes: number; sessions: number }) =>
    h.sessions > 0 ? Math.min(1, h.crashes / h.sessions) : null
  const sampleStats = {
    baselineSessions: b.sessions,
    baselineCrashes: b.crashes,
    baselineRate: rate(b),
    candidateSessions: c.sessions,
    candidateCrashes: c.crashes,
    candidateRate: rate(c),
  }
  if (stats.baseline.devices < step.minDevices || stats.candidate.devices < step.minDevices)
    return notJudged(g.metric, 'insufficient_devices', g.maxDiff, sampleStats)
  if (b.sessions < g.minSessions || c.sessions < g.minSessions)
    return notJudged(g.metric, 'insufficient_sessions', g.maxDiff, sampleStats)
  const diff = (rate(c) ?? 0) - (rate(b) ?? 0)
  return judged(g.metric, diff > g.maxDiff, diff, g.maxDiff, sampleStats)
}

/** Rows an arm's quality counts cover: the most of any feature (every profiled feature counts every row). */
function rowsOf(arm: ArmStats): number {
  let rows = 0
  for (const q of Object.values(arm.quality ?? {})) rows = Math.max(rows, q.rows)
  return rows
}

function isRate(g: Guardrail): g is RateGuardrail {
  return g.metric === 'error_rate' || g.metric === 'fallback_rate' || g.metric === 'shadow_disagreement'
}

/** A guardrail that could be judged: `breach` when `breach` holds, else `ok`; `value` is what was held to `limit`. */
function judged(
  metric: Guardrail['metric'],
  breach: boolean,
  value: number,
  limit: number,
  stats: Record<string, number | null>,
  extra: Pick<GuardrailResult, 'test' | 'slice' | 'feature'> = {},
): GuardrailResult {
  return { metric, status: breach ? 'breach' : 'ok', reason: 'judged', value, limit, ...extra, stats }
}

/** A guardrail that could not be judged yet, and why (`reason`): it neither breaches nor passes. */
function notJudged(
  metric: Guardrail['metric'],
  reason: GuardrailResult['reason'],
  limit: number,
  stats: Record<string, number | null>,
): GuardrailResult {
  return { metric, status: 'not_judged', reason, value: null, limit, stats }
}

/** A step at 100% sends every targeted device to the candidate: the baseline arm is expected empty. */
function baselineExpected(step: RolloutStep): boolean {
  return step.percent < 100
}

function rateMoments(arm: ArmStats, metric: RateMetric): RateMoments {
  if (arm.perDevice) return momentsOf(deviceRates(arm.perDevice, metric))
  return (arm.summary as NonNullable<ArmStats['summary']>).rates[metric]
}

/**
 * An arm's labels with the device as the unit, as for the other guardrails: a device counts at most
 * as many labels as it made inferences (each label is of one of its predictions) and correct ones as
 * labels, and no device more than DEVICE_CAP_FACTOR × the arm's median device (core/telemetry/device-caps.ts).
 */
function labels(arm: ArmStats): { labeled: number; correct: number } {
  if (!arm.perDevice) return { labeled: arm.summary?.labeled ?? 0, correct: arm.summary?.correct ?? 0 }
  const devices = arm.perDevice.map((d) => {
    const labeled = Math.min(d.labeled, d.inferences)
    return { weight: labeled, values: [labeled, Math.min(d.correct, labeled)] }
  })
  const [labeled = 0, correct = 0] = cappedSum(devices, weightCapOf(devices.map((d) => d.weight)))
  return { labeled, correct }
}

function p95(arm: ArmStats): number | null {
  if (arm.latency === null || arm.latency.n === 0) return null
  return parseSketch(arm.latency).quantile(0.95)
}
