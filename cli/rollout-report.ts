import * as z from 'zod'
import { EdgefleetError } from '../core/errors.ts'
import {
  DEFAULT_GUARDRAIL_MIN_DEVICES,
  DEFAULT_MIN_LABELED,
  DEFAULT_MIN_QUALITY_ROWS,
  RolloutConfig,
  type ArmView,
  type Guardrail,
  type RolloutDecisionView,
  type RolloutTransitionView,
  type RolloutView,
} from '../core/formats/rollout.ts'
import { renderTable } from './table.ts'
import { formatMs, formatPValue, formatRate, formatStat, formatTime } from './units.ts'

/*
 * The readable `rollout status` report. The view's `evidence` is typed as an open record at the
 * edge, so the parts printed here (core/rollout/decide.ts: GuardrailResult, SrmResult, StepProgress)
 * are read through lenient schemas: a part this CLI cannot read is said to be so, never a crash.
 */

const GuardrailVerdict = z.object({
  metric: z.string(),
  status: z.enum(['ok', 'breach', 'not_judged']),
  reason: z.string(),
  value: z.number().nullable(),
  limit: z.number(),
  test: z.object({ pvalue: z.number(), alpha: z.number() }).optional(),
  feature: z.string().optional(),
  slice: z.object({ dimension: z.string(), value: z.string() }).optional(),
})
type GuardrailVerdict = z.infer<typeof GuardrailVerdict>

const PerArm = z.object({ baseline: z.number(), candidate: z.number() })
const SrmCheck = z.object({
  srm: z.boolean(),
  reason: z.string(),
  observed: PerArm,
  expectedShare: z.number(),
  pvalue: z.number().nullable(),
  judgedFrom: z.number(),
})
const StepCheck = z.object({
  step: z.number(),
  percent: z.number(),
  minutes: z.number(),
  devices: PerArm,
  inferences: PerArm,
  required: z.object({ minMinutes: z.number(), minDevices: z.number(), minInferences: z.number() }),
})
const Evidence = z.object({
  guardrails: z.array(GuardrailVerdict).catch([]),
  srm: SrmCheck.nullable().optional().catch(undefined),
  step: StepCheck.nullable().optional().catch(undefined),
})

/** The view's config as core reads it; an edge newer than this CLI gets a clear error pointing at `--json`. */
export function configOf(view: RolloutView): RolloutConfig {
  const parsed = RolloutConfig.safeParse(view.config)
  if (!parsed.success)
    throw new EdgefleetError(
      'parse_error',
      `rollout ${view.id} has a config this CLI cannot read (${parsed.error.issues[0].message}); --json prints it as is`,
    )
  return parsed.data
}

/** `step 3/5` for a 0-based step index. */
export function stepLabel(step: number, steps: number): string {
  return `step ${step + 1}/${steps}`
}

/**
 * Where a rollout stands, in one line.
 *
 * @example formatRolloutState(view) // 'running at step 3/5, 25% of devices on v7'
 */
export function formatRolloutState(view: RolloutView, config: RolloutConfig = configOf(view)): string {
  const why = view.reason === null ? '' : ` (${view.reason})`
  const at = `${stepLabel(view.step, config.steps.length)}, ${view.percent}% of devices on v${config.candidate}`
  switch (view.status) {
    case 'running':
      return `running at ${at}${why}`
    case 'paused':
      return `paused at ${at}${why}`
    case 'rolled_back':
      return `rolled back: every device back on v${config.baseline ?? '?'}${why}`
    case 'promoted':
      return `promoted: v${config.candidate} is production${why}`
  }
}

/** The whole report: header, last decision (arms, guardrails, sample ratio, step minimums), timeline. */
export function formatRolloutStatus(view: RolloutView): string {
  const config = configOf(view)
  const sections = [header(view, config), decision(view.lastDecision, config), timeline(view.transitions, config)]
  return sections.join('\n\n') + '\n'
}

function keyValues(lines: [string, string][]): string[] {
  const width = Math.max(...lines.map(([k]) => k.length))
  return lines.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)
}

function indent(table: string): string[] {
  return table
    .trimEnd()
    .split('\n')
    .map((line) => `  ${line}`)
}

function header(view: RolloutView, config: RolloutConfig): string {
  const steps = config.steps
    .map((s, i) =>
      i === view.step && (view.status === 'running' || view.status === 'paused') ? `[${s.percent}%]` : `${s.percent}%`,
    )
    .join(' → ')
  const lines: [string, string][] = [
    ['status', formatRolloutState(view, config)],
    ['steps', steps],
    [
      'guardrails',
      config.guardrails.length === 0
        ? 'none'
        : `${config.guardrails.map(formatGuardrail).join('; ')} (α ${config.alpha})`,
    ],
    ...(config.targeting === undefined ? [] : [['targeting', formatTargeting(config.targeting)] as [string, string]]),
    ['started', `${formatTime(view.createdAt)} by ${view.createdBy}`],
    ['step started', formatTime(view.stepStartedAt)],
    [
      'next evaluation',
      view.nextEvaluationAt === null
        ? '-'
        : `${formatTime(view.nextEvaluationAt)} (every ${formatSeconds(config.evaluationSeconds)})`,
    ],
  ]
  const against = config.baseline === undefined ? '' : ` against v${config.baseline}`
  return [
    `${view.model} rollout ${view.id}: ${config.mode} of v${config.candidate}${against}`,
    ...keyValues(lines),
  ].join('\n')
}

/** Parameters left out of a guardrail's summary when they hold core's default. */
const DEFAULT_PARAMS: Record<string, number | boolean> = {
  minDevices: DEFAULT_GUARDRAIL_MIN_DEVICES,
  minLabeled: DEFAULT_MIN_LABELED,
  minRows: DEFAULT_MIN_QUALITY_ROWS,
  absolute: false,
}

/** `error_rate:maxDiff=0.005`: a guardrail as `--guard` writes it, without the defaults' noise. */
function formatGuardrail(g: Guardrail): string {
  const { metric, ...params } = g
  const shown = Object.entries(params).filter(([k, v]) => v !== undefined && DEFAULT_PARAMS[k] !== v)
  return `${metric}:${shown.map(([k, v]) => `${k}=${v}`).join(',')}`
}

function formatTargeting(t: NonNullable<RolloutConfig['targeting']>): string {
  return Object.entries(t)
    .map(
      ([k, v]) =>
        `${k}=${Array.isArray(v) ? (v.length > 5 ? `${v.slice(0, 5).join(',')},… (${v.length})` : v.join(',')) : v}`,
    )
    .join(', ')
}

function formatSeconds(s: number): string {
  return s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`
}

function decision(d: RolloutDecisionView | null, config: RolloutConfig): string {
  if (d === null) return 'last decision  none yet'
  const head = `last decision ${formatTime(d.at)} at ${stepLabel(d.step, config.steps.length)}: ${d.action} (${d.reason})`
  const range = `  over ${formatTime(d.window.from)} → ${formatTime(d.window.to)}, sample ratio from ${formatTime(d.window.settledFrom)}`
  const evidence = Evidence.safeParse(d.evidence)
  const parts = [head, range, '', ...armTable(d.arms)]
  if (!evidence.success) return [...parts, '', '  evidence: not readable by this CLI (--json prints it)'].join('\n')
  const { guardrails, srm, step } = evidence.data
  if (guardrails.length > 0) parts.push('', ...guardrailTable(guardrails, config))
  const checks: [string, string][] = []
  if (srm) checks.push(['sample ratio', formatSrm(srm)])
  if (step) checks.push(...formatProgress(step))
  if (checks.length > 0) parts.push('', ...keyValues(checks))
  return parts.join('\n')
}

function armTable(arms: { baseline: ArmView; candidate: ArmView }): string[] {
  const both = [arms.baseline, arms.candidate]
  const row = (name: string, cell: (a: ArmView) => string): string[] => [name, ...both.map(cell)]
  const rate = (x: number | null) => formatRate(x, 2)
  const rows = [
    row('devices', (a) => String(a.devices)),
    row('settled devices', (a) => String(a.settledDevices)),
    row('inferences', (a) => String(a.inferences)),
    row('errors', (a) => String(a.errors)),
    row('error rate', (a) => rate(a.errorRate)),
    row('fallback rate', (a) => rate(a.fallbackRate)),
    row('p95 latency', (a) => (a.latencyP95 === null ? '-' : formatMs(a.latencyP95))),
    row('drift JS max', (a) => formatStat(a.driftJsMax)),
  ]
  if (both.some((a) => a.quality))
    rows.push(row('worst data quality', (a) => (a.quality ? `${rate(a.quality.rate)} ${a.quality.feature}` : '-')))
  if (both.some((a) => a.shadow.compared > 0))
    rows.push(
      row('shadow agreement', (a) =>
        a.shadow.compared === 0 ? '-' : `${rate(a.shadow.agreed / a.shadow.compared)} of ${a.shadow.compared}`,
      ),
    )
  if (both.some((a) => a.feedback.labeled > 0))
    rows.push(
      row('accuracy', (a) =>
        a.feedback.labeled === 0 ? '-' : `${rate(a.feedback.correct / a.feedback.labeled)} of ${a.feedback.labeled}`,
      ),
    )
  if (both.some((a) => a.estimatedAccuracy))
    rows.push(
      row('est. accuracy', (a) =>
        a.estimatedAccuracy ? `${rate(a.estimatedAccuracy.value)} of ${a.estimatedAccuracy.n}` : '-',
      ),
    )
  return indent(
    renderTable(['arm', `baseline v${arms.baseline.version}`, `candidate v${arms.candidate.version}`], rows, [
      'left',
      'right',
      'right',
    ]),
  )
}

function guardrailTable(verdicts: GuardrailVerdict[], config: RolloutConfig): string[] {
  const rows = verdicts.map((v, i) => {
    // Verdicts come in config order; the config says whether a rate bound is on the difference.
    const g = config.guardrails[i]?.metric === v.metric ? config.guardrails[i] : undefined
    const [value, limit] = bounds(v, g)
    const verdict =
      v.status === 'ok' ? 'ok' : v.status === 'breach' ? 'BREACH' : `not judged: ${v.reason.replaceAll('_', ' ')}`
    const p = v.test === undefined ? '-' : `${formatPValue(v.test.pvalue)} (α ${Number(v.test.alpha.toPrecision(3))})`
    return [v.metric, verdict, value, limit, p]
  })
  return indent(
    renderTable(['guardrail', 'verdict', 'value', 'limit', 'p-value'], rows, [
      'left',
      'left',
      'right',
      'left',
      'right',
    ]),
  )
}

/** The judged value and its bound, in the guardrail's own unit. */
function bounds(v: GuardrailVerdict, g: Guardrail | undefined): [string, string] {
  const value = (f: (x: number) => string) => (v.value === null ? '-' : f(v.value))
  const times = (x: number) => `${x.toFixed(2)}×`
  if (g !== undefined && 'maxDiff' in g && g.maxDiff !== undefined) {
    const pp = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)} pp`
    return [value(pp), `≤ ${pp(v.limit)} vs baseline`]
  }
  switch (v.metric) {
    case 'latency_p95':
      return [value(times), `≤ ${times(v.limit)} baseline`]
    case 'accuracy':
    case 'estimated_accuracy':
      return [value(times), `≥ ${times(v.limit)} baseline`]
    case 'drift_js_max':
      return [value(formatStat), `≤ ${v.limit}`]
    case 'data_quality': {
      const pp = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)} pp`
      const at = v.feature === undefined ? '' : ` (${v.feature})`
      return g !== undefined && 'absolute' in g && !g.absolute
        ? [value((x) => pp(x) + at), `≤ ${pp(v.limit)} vs baseline`]
        : [value((x) => formatRate(x, 2) + at), `≤ ${formatRate(v.limit, 2)}`]
    }
    case 'slice_gap': {
      // The candidate's excess over the baseline on its worst slice.
      const pp = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)} pp`
      const at = v.slice === undefined ? '' : ` (${v.slice.dimension} ${v.slice.value})`
      return [value((x) => pp(x) + at), `≤ ${pp(v.limit)} vs baseline per slice`]
    }
    default:
      return [value((x) => formatRate(x, 2)), `≤ ${formatRate(v.limit, 2)}`]
  }
}

function formatSrm(s: z.infer<typeof SrmCheck>): string {
  const counts = `baseline ${s.observed.baseline}, candidate ${s.observed.candidate} settled devices, expected ${formatRate(s.expectedShare)} candidate`
  switch (s.reason) {
    case 'too_early':
      return `not judged before ${formatTime(s.judgedFrom)} (devices still taking the step's assignment)`
    case 'no_devices':
      return 'not judged: no settled devices yet'
    case 'single_arm':
      return 'not judged: one arm at 100%'
    default:
      return `${s.srm ? 'MISMATCH' : 'balanced'}: ${counts}, p ${formatPValue(s.pvalue)}`
  }
}

function formatProgress(p: z.infer<typeof StepCheck>): [string, string][] {
  // A step at 100% expects no baseline devices, so only the candidate must meet the minimums there.
  const arms = (x: { baseline: number; candidate: number }, need: number) =>
    `${p.percent < 100 ? `baseline ${x.baseline}, ` : ''}candidate ${x.candidate} of ${need}${p.percent < 100 ? ' each' : ''}`
  return [
    ['step minutes', `${p.minutes.toFixed(1)} of ${p.required.minMinutes}`],
    ['step devices', arms(p.devices, p.required.minDevices)],
    ['step inferences', arms(p.inferences, p.required.minInferences)],
  ]
}

function timeline(transitions: RolloutTransitionView[], config: RolloutConfig): string {
  const state = (s: { status: string; step: number } | null) =>
    s === null ? '-' : `${s.status.replaceAll('_', ' ')} ${stepLabel(s.step, config.steps.length).slice(5)}`
  const rows = transitions.map((t) => [
    formatTime(t.at),
    t.action,
    `${state(t.from)} → ${state(t.to)}`,
    t.reason,
    t.actor,
  ])
  return ['timeline', ...indent(renderTable(['time', 'action', 'from → to', 'reason', 'actor'], rows))].join('\n')
}
