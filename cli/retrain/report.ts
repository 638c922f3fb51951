/**
 * @module
 * How a run or a validation reads in a terminal: the gates as a table, then one line per outcome.
 */
import type { GateResult, Run, RunMetrics } from '../../core/formats/run.ts'
import { renderTable } from '../table.ts'

const num = (x: number | null) => (x === null ? '–' : Number.isInteger(x) ? String(x) : x.toFixed(3))

/** The gates, one row each: gate, value, limit, verdict and the line that explains it. */
export function formatGates(gates: readonly GateResult[]): string {
  return renderTable(
    ['gate', 'value', 'limit', 'verdict', 'why'],
    gates.map((g) => [g.gate, num(g.value), num(g.limit), g.passed ? 'pass' : 'FAIL', g.message]),
    ['left', 'right', 'right', 'left', 'left'],
  )
}

/** Holdout accuracy, log-loss, size and latency of a model, on one line. */
export function formatMetrics(who: string, m: RunMetrics): string {
  const parts = [`accuracy ${m.accuracy.toFixed(3)}`, `log-loss ${m.logLoss.toFixed(3)}`]
  if (m.bytes !== undefined) parts.push(`${m.bytes} bytes`)
  if (m.latencyP95Ms !== undefined) parts.push(`p95 ${m.latencyP95Ms.toFixed(3)} ms`)
  if (m.trainingMs !== undefined) parts.push(`trained in ${Math.round(m.trainingMs)} ms`)
  return `${who}: ${parts.join(', ')}\n`
}

/** A recorded run as a person reads it. */
export function formatRun(run: Run): string {
  const head = `run ${run.id} of ${run.model}: ${run.status} (trigger ${run.trigger}; ${run.params.family}, seed ${run.params.seed}, holdout ${run.data.holdoutRows} of ${run.data.rows} rows)\n`
  const lines = [head]
  if (run.metrics) lines.push(formatMetrics('candidate', run.metrics))
  if (run.champion)
    lines.push(
      formatMetrics(
        run.champion.kind === 'version' ? `champion v${run.champion.version}` : 'majority class',
        run.champion.metrics,
      ),
    )
  if (run.gates.length) lines.push(formatGates(run.gates))
  if (run.version !== null) lines.push(`published ${run.model} v${run.version}\n`)
  if (run.rollout !== null) lines.push(`started rollout ${run.rollout}\n`)
  if (run.error !== null) lines.push(`error: ${run.error}\n`)
  return lines.join('')
}
