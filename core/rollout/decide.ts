import type {
  ArmStats,
  DataQualityGuardrail,
  Guardrail,
  RateGuardrail,
  RateMetric,
  RateMoments,
  Rollout,
  RolloutAction,
  RolloutStats,
  RolloutStep,
} from '../formats/rollout.ts'
import { parseSketch } from '../sketch/parse.ts'
import { cappedSum, weightCapOf } from '../telemetry/device-caps.ts'
import { dataQualityGuardrail, qualityView } from '../telemetry/quality.ts'
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
  reason: 'judged' | 'insufficient_devices' | 'insufficient_labels' | 'no_data'
  /** The judged quantity: rate estimate, p95 ratio, JS, accuracy ratio. */
  value: number | null
  /** The configured bound (margin, maxRatio, max, minRatio). */
  limit: number
  /** Rate guardrails: the sequential test (α already split). */
  test?: SequentialResult
  /** For `data_quality`: the candidate's worst input feature. */
  feature?: string
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
    return {
      metric: g.metric,
      status: ratio > limit ? 'breach' : 'ok',
      reason: 'judged',
      value: ratio,
      limit,
      stats: sampleStats,
    }
  }
  if (g.metric === 'drift_js_max') {
    const sampleStats = { candidateDevices: candidate.devices }
    if (candidate.devices < step.minDevices) return notJudged(g.metric, 'insufficient_devices', g.max, sampleStats)
    if (candidate.driftJsMax === null) return notJudged(g.metric, 'no_data', g.max, sampleStats)
    const v = candidate.driftJsMax
    return {
      metric: g.metric,
      status: v > g.max ? 'breach' : 'ok',
      reason: 'judged',
      value: v,
      limit: g.max,
      stats: sampleStats,
    }
  }
  if (g.metric === 'data_quality') return judgeDataQuality(g, stats, step)
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
  return {
    metric: g.metric,
    status: ratio < g.minRatio ? 'breach' : 'ok',
    reason: 'judged',
    value: ratio,
    limit: g.minRatio,
    stats: sampleStats,
  }
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
  return {
    metric: g.metric,
    status: test.reject ? 'breach' : 'ok',
    reason: 'judged',
    value: test.estimate,
    limit,
    test,
    stats: sampleStats,
  }
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
  return {
    metric: g.metric,
    status: verdict.pass ? 'ok' : 'breach',
    reason: 'judged',
    // The judged quantity: the candidate's worst rate, less the baseline's unless absolute.
    value: verdict.baseline === null ? verdict.candidate : verdict.candidate - verdict.baseline,
    limit: g.maxRate,
    ...(c.worst ? { feature: c.worst.feature } : {}),
    stats: sampleStats,
  }
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
