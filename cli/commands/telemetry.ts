import { Command, Option } from 'commander'
import type { CohortMetrics, DriftSummary, FleetCohort, FleetView, Granularity } from '../../core/formats/fleet.ts'
import { SliceDimension, type FleetSlices, type SliceGap } from '../../core/formats/slices.ts'
import { clientOf, edgeAction, withConnection, type ConnectionFlags } from '../connection.ts'
import type { Io } from '../io.ts'
import { formatJson } from '../json.ts'
import { durationOption } from '../options.ts'
import { versionArgument } from '../registry-args.ts'
import { renderTable } from '../table.ts'
import { count, formatMs, formatPValue, formatRate, formatStat, formatTime } from '../units.ts'

interface TelemetryFlags extends ConnectionFlags {
  version?: number
  since?: number
  granularity: Granularity
  slice?: SliceDimension
}

/** Fallback reasons listed per cohort; the rest are counted as "+N more". */
const TOP_FALLBACKS = 3

/** `edgefleet telemetry <model>`: the fleet view per version × role × rollout arm, with drift and data quality per feature. */
export function telemetryCommand(io: Io): Command {
  return withConnection(
    new Command('telemetry')
      .description("summarize a model's fleet telemetry per version × role × rollout arm")
      .argument('<model>', 'the model')
      .option('--version <n>', 'only this version (3 or v3)', versionArgument)
      .option(
        '--since <duration>',
        'how far back: 30m, 1h, 2d (default 24h; at most 24h by minute, 31d by hour)',
        durationOption,
      )
      .addOption(new Option('--granularity <step>', 'series step').choices(['minute', 'hour']).default('hour'))
      .addOption(
        new Option(
          '--slice <dimension>',
          'also group each cohort by a slice, with the largest gap between slices',
        ).choices(SliceDimension.options),
      ),
  )
    .addHelpText('after', '\n--json prints the FleetView (core/formats/fleet.ts).')
    .action(
      edgeAction(async (model: string, flags: TelemetryFlags) => {
        // Without --since the edge picks the range (the last 24 h), so its clock decides, not ours.
        const to = flags.since === undefined ? undefined : Date.now()
        const from = to === undefined || flags.since === undefined ? undefined : to - flags.since
        const view = await clientOf(flags).fleetView(model, {
          from,
          to,
          version: flags.version,
          granularity: flags.granularity,
          slice: flags.slice,
        })
        io.out(flags.json === true ? `${formatJson(view)}\n` : formatFleetView(view))
      }),
    )
}

/** The readable fleet summary: a header line, then one block per cohort (suppressed ones in one line). */
export function formatFleetView(view: FleetView): string {
  const head = `${view.model}  ${formatTime(view.from)} → ${formatTime(view.to)}  by ${view.granularity}, cohorts under ${view.minDevices} devices suppressed`
  if (view.cohorts.length === 0) return `${head}\n\nno telemetry in this range\n`
  const blocks = [head, ...view.cohorts.map(formatCohort)]
  const worst = worstQuality(view)
  if (worst !== null) blocks.push(worst)
  const lost = deviceDrops(view)
  if (lost !== null) blocks.push(lost)
  if (view.slices) blocks.push(...sliceBlocks(view.slices, view.sliceGap ?? null))
  if (view.cohorts.every((c) => c.total.suppressed))
    blocks.push(
      `telemetry exists for ${count(view.cohorts.length, 'cohort')}, each from fewer than ${view.minDevices} devices, ` +
        `so none is shown (k-anonymity). For local work, start the edge with a lower k: ` +
        '`npm start -- --min-devices 1` (TELEMETRY_MIN_DEVICES).',
    )
  return blocks.join('\n\n') + '\n'
}

/** Each cohort's slices as a table (suppressed ones say so), then the view's largest gap. */
function sliceBlocks(slices: FleetSlices, gap: (SliceGap & { version: number }) | null): string[] {
  const blocks = slices.cohorts.map((c) => {
    const rows = Object.entries(c.slices).map(([value, m]) =>
      m.suppressed
        ? [value, '-', '-', '-', '-', `suppressed (< ${m.minDevices} devices)`]
        : [
            value,
            String(m.devices),
            `${m.inferences}`,
            m.errorRate === null ? '-' : formatRate(m.errorRate),
            m.feedback === null ? '-' : formatRate(m.feedback.accuracy),
            ...(m.health === undefined
              ? []
              : [`crash rate ${formatRate(m.health.crashRate)} (${crashes(m.health.crashes)})`]),
          ],
    )
    const head = `v${c.version} ${c.role}${c.rollout === null ? '' : `  rollout ${c.rollout.id} ${c.rollout.arm}`} by ${slices.dimension}`
    return rows.length === 0
      ? `${head}\n  no telemetry`
      : `${head}\n${renderTable([slices.dimension, 'devices', 'inferences', 'errors', 'accuracy', ''], rows, [
          'left',
          'right',
          'right',
          'right',
          'right',
        ])
          .trimEnd()
          .split('\n')
          .map((line) => `  ${line}`)
          .join('\n')}`
  })
  blocks.push(
    gap === null
      ? `largest gap between ${slices.dimension} slices: none (fewer than two slices to compare)`
      : `largest gap between ${gap.dimension} slices: ${gap.metric === 'error_rate' ? 'error rate' : 'accuracy'} ` +
          `${formatRate(gap.worst.value)} on ${gap.worst.slice} against ${formatRate(gap.best.value)} on ${gap.best.slice} (v${gap.version})`,
  )
  return blocks
}

/** Reports devices said they dropped before sending (not shown when none were). */
function deviceDrops(view: FleetView): string | null {
  const drops = Object.entries(view.deviceDropped ?? {}).filter(([, n]) => n > 0)
  if (drops.length === 0) return null
  return `dropped on devices before sending: ${drops.map(([reason, n]) => `${reason} ${n}`).join(', ')}`
}

function cohortName(c: FleetCohort): string {
  return `v${c.version} ${c.role}${c.rollout === null ? '' : `  rollout ${c.rollout.id} ${c.rollout.arm}`}`
}

function formatCohort(c: FleetCohort): string {
  const t = c.total
  if (t.suppressed) return `${cohortName(c)}\n  suppressed (< ${t.minDevices} devices)`
  const lines: [string, string][] = [
    [
      'devices',
      t.devicesRelativeError > 0 ? `≈${t.devices} (±${formatRate(t.devicesRelativeError)})` : String(t.devices),
    ],
    ['inferences', `${t.inferences}, ${count(t.errors, 'error')} (${formatRate(t.errorRate)})`],
    ...(t.estimated === null ? [] : [['estimated', estimates(t.estimated, t.minSampleRate)] as [string, string]]),
    [
      'latency',
      t.latencyMs === null
        ? '-'
        : `p50 ${formatMs(t.latencyMs.p50)}  p95 ${formatMs(t.latencyMs.p95)}  p99 ${formatMs(t.latencyMs.p99)}`,
    ],
    [
      'load',
      `${t.loadMs === null ? '-' : `p50 ${formatMs(t.loadMs.p50)}`}  (${count(t.loads, 'load')}, cache hits ${formatRate(t.cacheHitRate)})`,
    ],
    ['backends', backendMix(t)],
    ['fallbacks', topFallbacks(t.fallbacks)],
    ['shadow', t.shadow === null ? '-' : `${formatRate(t.shadow.agreement)} agree (${t.shadow.compared} compared)`],
    ['accuracy', t.feedback === null ? '-' : `${formatRate(t.feedback.accuracy)} (${t.feedback.labeled} labeled)`],
  ]
  if (t.estimatedAccuracy !== undefined && t.estimatedAccuracy !== null) {
    const e = t.estimatedAccuracy
    lines.push([
      'est. accuracy',
      `${formatRate(e.value)} ± ${formatRate((e.high - e.low) / 2)} (95% ${formatRate(e.low)}–${formatRate(e.high)}, ${e.n} calibrated)`,
    ])
  }
  if (t.quality !== undefined)
    lines.push([
      'quality',
      t.quality.worst === null
        ? '-'
        : `worst ${t.quality.worst.feature} ${formatRate(t.quality.worst.rate)} of rows with a problem`,
    ])
  if (t.health !== undefined) lines.push(['health', healthLine(t.health)])
  const width = Math.max(...lines.map(([k]) => k.length))
  return [
    cohortName(c),
    ...lines.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    ...driftTable('feature', t.features),
    ...driftTable('output', t.outputs),
    ...qualityTable(t.quality),
  ].join('\n')
}

/** A cohort's device health on one line (docs/device-health.md); the counts are whole in --json. */
function healthLine(h: NonNullable<CohortMetrics['health']>): string {
  return (
    `crash rate ${formatRate(h.crashRate)} (${crashes(h.crashes)} in ${count(h.sessions, 'session')}): ` +
    `device lost ${h.deviceLost}, out of memory at load ${h.oomLoad} and at run ${h.oomRun}, ` +
    `worker crashes ${h.workerCrash}, abandoned loads ${h.loadAbandoned}`
  )
}

const crashes = (n: number) => `${n} crash${n === 1 ? '' : 'es'}`

/** The model's worst feature over the visible cohorts, and where; null without quality counts. */
function worstQuality(view: FleetView): string | null {
  let worst: { feature: string; rate: number; cohort: FleetCohort } | null = null
  for (const c of view.cohorts) {
    const w = c.total.suppressed ? null : (c.total.quality?.worst ?? null)
    if (w !== null && (worst === null || w.rate > worst.rate)) worst = { ...w, cohort: c }
  }
  return worst === null
    ? null
    : `worst data quality: ${worst.feature} ${formatRate(worst.rate)} of rows with a problem (${cohortName(worst.cohort)})`
}

/** Data-quality counts per input feature, indented under its cohort; nothing without counts. */
function qualityTable(quality: CohortMetrics['quality']): string[] {
  const entries = Object.entries(quality?.features ?? {})
  if (entries.length === 0) return []
  const rows = entries.map(([name, q]) => [
    name,
    String(q.rows),
    String(q.missing),
    String(q.nonFinite),
    String(q.wrongType),
    String(q.outOfRange),
    String(q.unknownCategory),
    formatRate(q.rate),
  ])
  const table = renderTable(
    ['quality', 'rows', 'missing', 'non-finite', 'wrong type', 'out of range', 'unknown category', 'rate'],
    rows,
    ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  )
  return [
    '',
    ...table
      .trimEnd()
      .split('\n')
      .map((line) => `  ${line}`),
  ]
}

/** The Horvitz–Thompson estimates of a sampled cohort, rounded for reading (--json has them whole). */
function estimates(e: NonNullable<CohortMetrics['estimated']>, minSampleRate: number): string {
  const about = (n: number, noun: string) => `≈${count(Math.round(n), noun)}`
  return `${about(e.devices, 'device')}, ${about(e.inferences, 'inference')}, ${about(e.errors, 'error')} (sampled, rate ≥ ${minSampleRate}; counts above as received)`
}

function backendMix(t: CohortMetrics): string {
  const mix = Object.entries(t.backends).sort(([, a], [, b]) => b.inferences - a.inferences)
  return mix.length === 0 ? '-' : mix.map(([name, b]) => `${name} ${formatRate(b.share)}`).join(', ')
}

function topFallbacks(fallbacks: Record<string, number>): string {
  const sorted = Object.entries(fallbacks).sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
  if (sorted.length === 0) return '-'
  const shown = sorted.slice(0, TOP_FALLBACKS).map(([reason, devices]) => `${reason} (${count(devices, 'device')})`)
  return [...shown, ...(sorted.length > TOP_FALLBACKS ? [`+${sorted.length - TOP_FALLBACKS} more`] : [])].join(', ')
}

/** A drift table, indented under its cohort; nothing when there are no names. */
function driftTable(kind: 'feature' | 'output', drift: Record<string, DriftSummary>): string[] {
  const entries = Object.entries(drift)
  if (entries.length === 0) return []
  const rows = entries.map(([name, d]) => [
    name,
    String(d.n),
    formatStat(d.psi),
    formatStat(d.js),
    formatPValue(d.chi2_p),
    verdict(d),
  ])
  const table = renderTable([kind, 'n', 'psi', 'js', 'chi² p', 'drifted'], rows, [
    'left',
    'right',
    'right',
    'right',
    'right',
    'left',
  ])
  return [
    '',
    ...table
      .trimEnd()
      .split('\n')
      .map((line) => `  ${line}`),
  ]
}

function verdict(d: DriftSummary): string {
  if (d.reason === 'no_reference') return 'n/a (no reference)'
  if (d.reason === 'insufficient_data') return 'n/a (no data)'
  return d.drifted ? 'yes' : 'no'
}
