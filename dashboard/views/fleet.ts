import type { CohortMetrics, FleetCohort, FleetView } from '../../core/formats/fleet.ts'
import { allModels, api } from '../api.ts'
import { shareBars, timeChart } from '../charts.ts'
import { append, h, note, num, pct, replace } from '../dom.ts'
import { can, type Me } from '../scopes.ts'
import { driftHeatmap, type CohortKey } from './drift.ts'
import { qualityPanel } from './quality.ts'
import { slicesPanel } from './slices.ts'
import { sloPanel } from './slo.ts'
import type { SliceDimension } from '../../core/formats/slices.ts'
import { HEALTH_KINDS, type HealthKind } from '../../core/health-kinds.ts'

const SLICE_DIMENSIONS: SliceDimension[] = ['backend', 'platform', 'browser', 'memory', 'cohort']

const RANGES: [string, number][] = [
  ['15 min', 15 * 60_000],
  ['1 h', 3_600_000],
  ['6 h', 6 * 3_600_000],
  ['24 h', 24 * 3_600_000],
  ['7 days', 7 * 24 * 3_600_000],
]

function cohortName(c: FleetCohort): string {
  return `v${c.version} · ${c.role}${c.rollout ? ` · ${c.rollout.arm} of ${c.rollout.id}` : ''}`
}

function keyOf(c: FleetCohort): CohortKey {
  return { version: c.version, role: c.role, arm: c.rollout?.arm ?? null }
}

function stat(label: string, value: string, testid?: string): HTMLElement {
  return h('div', { class: 'stat', 'data-testid': testid }, h('span', { class: 'sub' }, label), h('strong', {}, value))
}

/** What each device health count means, as a person reads it (docs/device-health.md). */
const HEALTH_LABELS: Record<HealthKind, string> = {
  deviceLost: 'WebGPU device lost',
  oomLoad: 'out of memory at load',
  oomRun: 'out of memory at run',
  workerCrash: 'worker crash',
  loadAbandoned: 'tab died loading',
}

/** Crashes per session of a cohort, and what they were; "none reported" when no device counted one. */
function healthStat(health: CohortMetrics['health'], testid: string | undefined): HTMLElement {
  if (!health) return stat('crash rate', 'none reported', testid)
  const kinds = HEALTH_KINDS.filter((k) => health[k] > 0).map((k) => `${HEALTH_LABELS[k]}: ${num(health[k])}`)
  return h(
    'div',
    {
      class: 'stat wide',
      'data-testid': testid,
      'data-crash-rate': String(health.crashRate),
      title: 'Crash-like events per session (loads and loads a dead tab left behind); docs/device-health.md',
    },
    h('span', { class: 'sub' }, 'crash rate'),
    h(
      'strong',
      {},
      `${pct(health.crashRate, 2)} `,
      h('span', { class: 'sub' }, `${num(health.crashes)} in ${num(health.sessions)} sessions: ${kinds.join(' · ')}`),
    ),
  )
}

/** One cohort: totals, data quality per feature, the charts over time, backend mix, fallbacks, outputs, shadow and accuracy. */
function cohortSection(c: FleetCohort, minDevices: number, first: boolean): HTMLElement {
  const box = h('section', { class: 'card cohort', 'data-cohort': cohortName(c) }, h('h2', {}, cohortName(c)))
  if (c.total.suppressed) {
    box.append(
      h(
        'p',
        { class: 'note suppressed', 'data-testid': 'cohort-suppressed' },
        `Suppressed: fewer than k = ${c.total.minDevices} distinct devices reported in this range (k-anonymity). Data exists; it is not shown.`,
      ),
    )
    return box
  }
  const t: CohortMetrics = c.total
  const pts = c.series
  const times = pts.map((p) => p.start)
  const val = <T>(f: (p: Extract<(typeof pts)[number], { suppressed: false }>) => T | null) =>
    pts.map((p) => (p.suppressed ? null : f(p)))
  const hidden = pts.filter((p) => p.suppressed).length
  append(box, [
    h(
      'div',
      { class: 'stats' },
      stat('devices', `${num(t.devices)}${t.devicesRelativeError > 0 ? ` ±${pct(t.devicesRelativeError)}` : ''}`),
      stat('inferences', num(t.inferences)),
      stat('error rate', pct(t.errorRate, 2)),
      stat(
        'latency p50 / p95 / p99',
        t.latencyMs ? `${num(t.latencyMs.p50, 1)} / ${num(t.latencyMs.p95, 1)} / ${num(t.latencyMs.p99, 1)} ms` : '—',
      ),
      stat('load p50 / p95', t.loadMs ? `${num(t.loadMs.p50, 0)} / ${num(t.loadMs.p95, 0)} ms` : '—'),
      stat('cache-hit rate', `${pct(t.cacheHitRate)} of ${t.loads} loads`),
      healthStat(t.health, first ? 'health-stat' : undefined),
      stat('shadow agreement', t.shadow ? `${pct(t.shadow.agreement)} of ${t.shadow.compared}` : '—'),
      stat('accuracy', t.feedback ? `${pct(t.feedback.accuracy)} of ${t.feedback.labeled} labels` : 'no feedback'),
      t.estimatedAccuracy
        ? h(
            'div',
            {
              class: 'stat wide',
              'data-testid': first ? 'estimated-accuracy' : undefined,
              'data-value': String(t.estimatedAccuracy.value),
              title: 'Estimated without labels from calibrated confidences (docs/telemetry.md, "Estimated accuracy")',
            },
            h('span', { class: 'sub' }, 'estimated accuracy, without labels'),
            h(
              'strong',
              {},
              `${pct(t.estimatedAccuracy.value)} `,
              h(
                'span',
                { class: 'sub' },
                `95% ${pct(t.estimatedAccuracy.low)}–${pct(t.estimatedAccuracy.high)} · ${num(t.estimatedAccuracy.n)} predictions`,
              ),
            ),
          )
        : null,
      t.estimated
        ? stat(
            'estimated fleet',
            `${num(t.estimated.devices, 0)} devices · ${num(t.estimated.inferences, 0)} inferences`,
          )
        : null,
    ),
    hidden
      ? h(
          'p',
          { class: 'note suppressed' },
          `${hidden} of ${pts.length} points suppressed (fewer than k = ${minDevices} devices each); gaps in the charts.`,
        )
      : null,
    qualityPanel(t.quality, first ? 'quality-panel' : undefined),
  ])
  const charts = h(
    'div',
    { class: 'charts' },
    timeChart({ title: 'Inferences', times, lines: [{ label: 'inferences', values: val((p) => p.inferences) }] }),
    timeChart({ title: 'Devices', times, lines: [{ label: 'devices', values: val((p) => p.devices) }] }),
    timeChart({
      title: 'Latency (ms)',
      times,
      unit: 'ms',
      testid: first ? 'latency-chart' : undefined,
      lines: [
        { label: 'p50', values: val((p) => p.latencyMs?.p50 ?? null) },
        { label: 'p95', values: val((p) => p.latencyMs?.p95 ?? null) },
        { label: 'p99', values: val((p) => p.latencyMs?.p99 ?? null) },
      ],
    }),
    timeChart({
      title: 'Load time (ms)',
      times,
      unit: 'ms',
      lines: [
        { label: 'load p50', values: val((p) => p.loadMs?.p50 ?? null) },
        { label: 'load p95', values: val((p) => p.loadMs?.p95 ?? null) },
      ],
    }),
    timeChart({
      title: 'Rates',
      times,
      lines: [
        { label: 'error rate', values: val((p) => p.errorRate), percent: true },
        { label: 'cache-hit rate', values: val((p) => p.cacheHitRate), percent: true },
        { label: 'shadow agreement', values: val((p) => p.shadowAgreement), percent: true },
        { label: 'accuracy', values: val((p) => p.accuracy), percent: true },
        ...(pts.some((p) => !p.suppressed && p.estimatedAccuracy)
          ? [
              {
                label: 'estimated accuracy',
                values: val((p) => p.estimatedAccuracy?.value ?? null),
                percent: true,
              },
            ]
          : []),
      ],
    }),
  )
  const backends = Object.entries(t.backends).map(([b, v]) => ({
    label: b,
    share: v!.share,
    detail: `${v!.inferences} inferences`,
  }))
  const fallbacks = Object.entries(t.fallbacks)
  const outputs = Object.entries(t.outputs)
  box.append(
    charts,
    h(
      'div',
      { class: 'charts' },
      h(
        'figure',
        { class: 'chart' },
        h('figcaption', {}, 'Backend mix'),
        shareBars(backends, first ? 'backend-mix' : undefined),
      ),
      h(
        'figure',
        { class: 'chart' },
        h('figcaption', {}, 'Fallback reasons (devices)'),
        fallbacks.length
          ? h(
              'ul',
              {},
              fallbacks.map(([r, n]) => h('li', {}, h('span', { class: 'mono' }, r), ` · ${n}`)),
            )
          : h('p', { class: 'note' }, 'No fallbacks.'),
      ),
      h(
        'figure',
        { class: 'chart' },
        h('figcaption', {}, 'Outputs (share per bin vs reference drift)'),
        outputs.length
          ? outputs.map(([name, s]) => {
              const counts = s.counts ?? []
              const sum = counts.reduce((a, b) => a + b, 0) || 1
              return h(
                'div',
                {},
                h('p', { class: 'sub' }, `${name}: JS ${num(s.js)} · ${s.reason.replaceAll('_', ' ')}`),
                shareBars(counts.map((n, i) => ({ label: `bin ${i}`, share: n / sum, detail: String(n) }))),
              )
            })
          : h('p', { class: 'note' }, 'No outputs reported.'),
      ),
    ),
  )
  return box
}

/** Fleet telemetry of one model over a range, per version × role × arm, with drift and live refresh. */
export async function render(root: HTMLElement, me: Me, params: string[]): Promise<() => void> {
  const models = can(me, 'registry:read') ? (await allModels()).map((m) => m.name) : []
  const model = params[0] ?? models[0]
  const q = new URLSearchParams(location.hash.split('?')[1] ?? '')
  const rangeMs = Number(q.get('range')) || 3_600_000
  const dimension = (SLICE_DIMENSIONS.find((d) => d === q.get('slice')) ?? 'backend') as SliceDimension
  const go = (m: string, r: number, d: SliceDimension = dimension) =>
    (location.hash = `#/fleet/${m}?range=${r}${d === 'backend' ? '' : `&slice=${d}`}`)
  const picker = models.length
    ? h(
        'select',
        { 'aria-label': 'Model', onchange: (e: Event) => go((e.target as HTMLSelectElement).value, rangeMs) },
        models.map((m) => h('option', { selected: m === model }, m)),
      )
    : h('input', {
        'aria-label': 'Model',
        value: model ?? '',
        placeholder: 'model name',
        onchange: (e: Event) => go((e.target as HTMLInputElement).value, rangeMs),
      })
  const range = h(
    'select',
    {
      'aria-label': 'Range',
      'data-testid': 'fleet-range',
      onchange: (e: Event) => go(model ?? '', Number((e.target as HTMLSelectElement).value)),
    },
    RANGES.map(([l, ms]) => h('option', { value: ms, selected: ms === rangeMs }, l)),
  )
  const live = h('input', { type: 'checkbox', id: 'live', checked: true })
  const status = h('span', { class: 'sub', 'aria-live': 'polite' })
  const body = h('div', {})
  let selected: CohortKey | null = null
  const draw = async () => {
    if (!model) return replace(body, note('No model to show: publish one first.'))
    const granularity = rangeMs <= 24 * 3_600_000 ? 'minute' : 'hour'
    const from = Date.now() - rangeMs
    const view = await api<FleetView>(`/v1/models/${model}/telemetry?from=${from}&granularity=${granularity}`)
    const slo = await sloPanel(model)
    status.textContent = `updated ${new Date(view.generatedAt).toLocaleTimeString()} · k = ${view.minDevices}`
    if (view.cohorts.length === 0)
      return replace(body, slo, note('No telemetry in this range: no device of this model has reported yet.'))
    const open = view.cohorts.filter((c) => !c.total.suppressed)
    selected ??= open.length ? keyOf(open.find((c) => c.role === 'primary') ?? open[0]) : keyOf(view.cohorts[0])
    const cohortPick = h(
      'select',
      {
        'aria-label': 'Drift cohort',
        onchange: (e: Event) => {
          selected = keyOf(view.cohorts[Number((e.target as HTMLSelectElement).value)])
          void draw()
        },
      },
      view.cohorts.map((c, i) =>
        h('option', { value: i, selected: JSON.stringify(keyOf(c)) === JSON.stringify(selected) }, cohortName(c)),
      ),
    )
    const sections = view.cohorts.map((c, i) =>
      cohortSection(c, view.minDevices, i === view.cohorts.indexOf(open[0] ?? view.cohorts[0])),
    )
    const heat = await driftHeatmap(model, view, selected, can(me, 'registry:read'))
    const slices = slicesPanel({ model, from, granularity, dimension, onDimension: (d) => go(model, rangeMs, d) })
    await slices.draw()
    replace(
      body,
      slo,
      h('div', { class: 'toolbar' }, h('label', {}, 'Drift of ', cohortPick)),
      heat,
      slices.element,
      sections,
    )
  }
  await draw()
  replace(
    root,
    h('h1', {}, 'Fleet telemetry'),
    h('div', { class: 'toolbar' }, picker, range, h('label', { for: 'live' }, live, ' Live (every 15 s)'), status),
    body,
  )
  const timer = window.setInterval(() => {
    if (live.checked && document.visibilityState === 'visible')
      void draw().catch((e) => (status.textContent = String(e)))
  }, 15_000)
  return () => clearInterval(timer)
}
