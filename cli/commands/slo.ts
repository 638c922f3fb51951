/**
 * @module `edgefleet slo set|get|status|evaluate`: a model's service-level objectives, checked locally
 * before they are sent, and their burn rates and error budget as a table (docs/slo.md).
 */
import { Command } from 'commander'
import { EdgefleetError } from '../../core/errors.ts'
import { SloConfig, type Objective, type SloStatus, type SloView } from '../../core/formats/slo.ts'
import { ALERT_WINDOWS } from '../../core/slo/burn-rate.ts'
import { clientOf, edgeAction, withConnection, type ConnectionFlags } from '../connection.ts'
import type { Io } from '../io.ts'
import { formatJson } from '../json.ts'
import { checkWith, readJsonFile } from '../local-json.ts'
import { renderTable } from '../table.ts'
import { formatRate, formatTime } from '../units.ts'

/** Flags of `slo set` that build objectives without a file. */
export interface SloFlags {
  file?: string
  latency?: string
  loadTime?: string
  errorRate?: string
  fallbackRate?: string
  period?: string
  disabled?: boolean
}

/**
 * The SLO body of `slo set`: the file's JSON, or objectives from flags (`--latency p99:50`,
 * `--load-time p95:2000`, `--error-rate 0.999`, `--fallback-rate 0.99`, named `latency-p99`,
 * `load-time-p95`, `error-rate`, `fallback-rate`), with `--period` and `--disabled` over either.
 * Checked against the edge's schema here, so a mistake fails before any request.
 */
export async function sloBodyOf(flags: SloFlags): Promise<SloConfig> {
  const objectives: unknown[] = []
  const percentile = (flag: string, value: string, kind: 'latency' | 'load_time') => {
    const m = /^p(\d+):(.+)$/.exec(value)
    if (!m)
      throw new EdgefleetError(
        'validation_failed',
        `${flag}: write the percentile and the threshold in ms, like p99:50`,
      )
    const name = `${kind.replace('_', '-')}-p${m[1]}`
    return { name, kind, percentile: Number(m[1]), thresholdMs: Number(m[2]) }
  }
  if (flags.latency !== undefined) objectives.push(percentile('--latency', flags.latency, 'latency'))
  if (flags.loadTime !== undefined) objectives.push(percentile('--load-time', flags.loadTime, 'load_time'))
  if (flags.errorRate !== undefined)
    objectives.push({ name: 'error-rate', kind: 'error_rate', target: Number(flags.errorRate) })
  if (flags.fallbackRate !== undefined)
    objectives.push({ name: 'fallback-rate', kind: 'fallback_rate', target: Number(flags.fallbackRate) })
  if (flags.file !== undefined && objectives.length > 0)
    throw new EdgefleetError('bad_request', 'give the objectives in --file or as flags, not both')
  if (flags.file === undefined && objectives.length === 0)
    throw new EdgefleetError(
      'bad_request',
      'no objectives: give --file slo.json, or --latency, --load-time, --error-rate, --fallback-rate',
    )
  const base = flags.file === undefined ? { objectives } : await readJsonFile(flags.file)
  const body = {
    ...(base as Record<string, unknown>),
    ...(flags.period === undefined ? {} : { period: flags.period }),
    ...(flags.disabled ? { enabled: false } : {}),
  }
  return checkWith(SloConfig, body, flags.file ?? 'flags')
}

/** `edgefleet slo`. */
export function sloCommand(io: Io): Command {
  const output = { writeOut: io.out, writeErr: io.err }
  const printView = (view: SloView, flags: ConnectionFlags) =>
    io.out(flags.json === true ? `${formatJson(view)}\n` : formatSlo(view))
  const printStatus = (status: SloStatus, flags: ConnectionFlags) =>
    io.out(flags.json === true ? `${formatJson(status)}\n` : formatSloStatus(status))
  const set = withConnection(
    new Command('set')
      .description('replace the SLOs of a model (a JSON file, or objectives from flags; see docs/slo.md)')
      .argument('<model>', 'the model')
      .option('--file <slo.json>', 'the SLOs as JSON: {objectives, period?, enabled?, webhook?}')
      .option('--latency <pXX:ms>', 'inference latency: p95 or p99 under a threshold in ms, e.g. p99:50')
      .option('--load-time <pXX:ms>', 'model load time: p95 or p99 under a threshold in ms, e.g. p95:2000')
      .option('--error-rate <target>', 'share of inferences without an error, e.g. 0.999')
      .option('--fallback-rate <target>', 'share of devices without a backend fallback, e.g. 0.99')
      .option('--period <days>', 'compliance period, 1d to 90d (default 28d)')
      .option('--disabled', 'store the SLOs without evaluating them'),
  ).action(
    edgeAction(async (model: string, flags: ConnectionFlags & SloFlags) => {
      const body = await sloBodyOf(flags)
      printView(await clientOf(flags).putSlo(model, body), flags)
    }),
  )
  const get = withConnection(
    new Command('get').description('print the SLOs of a model (secret redacted)').argument('<model>', 'the model'),
  ).action(
    edgeAction(async (model: string, flags: ConnectionFlags) => printView(await clientOf(flags).getSlo(model), flags)),
  )
  const status = withConnection(
    new Command('status')
      .description('burn rates of the 5m, 30m, 1h and 6h windows, state and error budget left per objective')
      .argument('<model>', 'the model'),
  ).action(
    edgeAction(async (model: string, flags: ConnectionFlags) =>
      printStatus(await clientOf(flags).sloStatus(model), flags),
    ),
  )
  const evaluate = withConnection(
    new Command('evaluate')
      .description('judge the SLOs now (records slo.breached / slo.recovered on a state change)')
      .argument('<model>', 'the model')
      .option(
        '--close-open-window',
        'count the minute still open as if complete (a local edge only: ENVIRONMENT=development)',
      ),
  ).action(
    edgeAction(async (model: string, flags: ConnectionFlags & { closeOpenWindow?: boolean }) =>
      printStatus(await clientOf(flags).evaluateSlo(model, { closeOpenWindow: flags.closeOpenWindow === true }), flags),
    ),
  )
  const slo = new Command('slo').description("set, read and evaluate a model's service-level objectives")
  for (const sub of [set, get, status, evaluate]) slo.addCommand(sub.exitOverride().configureOutput(output))
  return slo
}

/** An objective in words: `p99 latency ≤ 50 ms`, `error rate ≤ 0.1%`. */
export function describeObjective(o: Objective): string {
  switch (o.kind) {
    case 'latency':
      return `p${o.percentile} latency ≤ ${o.thresholdMs} ms`
    case 'load_time':
      return `p${o.percentile} load time ≤ ${o.thresholdMs} ms`
    case 'error_rate':
      return `error rate ≤ ${formatRate(1 - o.target, 2)}`
    case 'fallback_rate':
      return `fallback rate ≤ ${formatRate(1 - o.target, 2)}`
  }
}

/** The SLOs as `key  value` lines and one line per objective. */
export function formatSlo(v: SloView): string {
  const time = (t: number | null) => (t === null ? '-' : formatTime(t))
  const lines: [string, string][] = [
    ['enabled', v.enabled ? 'yes' : 'no'],
    ['period', v.period],
    ['webhook', v.webhook === undefined ? '-' : `${v.webhook.url} (secret ${v.webhook.secret})`],
    ['last evaluated', time(v.lastEvaluatedAt)],
    ['next evaluation', time(v.nextEvaluationAt)],
    ...v.objectives.map((o): [string, string] => [o.name, describeObjective(o)]),
  ]
  const width = Math.max(...lines.map(([k]) => k.length))
  const head = `${v.model} SLOs, revision ${v.revision} (${formatTime(v.updatedAt)} by ${v.updatedBy})`
  return [head, ...lines.map(([k, val]) => `  ${k.padEnd(width)}  ${val}`)].join('\n') + '\n'
}

/** The status as a table: per objective its state, the burn rate of each window, and the budget left. */
export function formatSloStatus(s: SloStatus): string {
  const burn = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x.toFixed(2))
  const rows = s.objectives.map((o) => {
    const byWindow = new Map(o.windows.map((w) => [w.window, w.burnRate]))
    return [
      o.name,
      o.state,
      ...ALERT_WINDOWS.map((w) => burn(byWindow.get(w.name))),
      formatRate(o.budget.remaining),
      o.since === null ? '-' : formatTime(o.since),
    ]
  })
  const head = `${s.model}${s.version === null ? ' (no production version)' : ` v${s.version}`}  evaluated ${formatTime(s.evaluatedAt)}, budget over ${s.period}`
  const table = renderTable(
    ['objective', 'state', ...ALERT_WINDOWS.map((w) => `burn ${w.name}`), 'budget left', 'since'],
    rows,
    ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'left'],
  )
  return `${head}\n\n${table}`
}
