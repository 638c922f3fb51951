/**
 * @module
 * The slices panel of the fleet page: every cohort's metrics grouped by one coarse key (backend,
 * platform, browser family, memory bucket or cohort label; docs/telemetry.md, "Slices"), slices on
 * fewer than k devices hidden, and the largest gap between slices named, as `slice_gap` reads it.
 */
import type { FleetView } from '../../core/formats/fleet.ts'
import type { CohortSlices, SliceDimension, SliceGap } from '../../core/formats/slices.ts'
import { api } from '../api.ts'
import { h, note, num, pct, replace } from '../dom.ts'

const DIMENSIONS: [SliceDimension, string][] = [
  ['backend', 'backend'],
  ['platform', 'platform'],
  ['browser', 'browser family'],
  ['memory', 'device memory'],
  ['cohort', 'cohort label'],
]

function cohortName(c: Pick<CohortSlices, 'version' | 'role' | 'rollout'>): string {
  return `v${c.version} · ${c.role}${c.rollout ? ` · ${c.rollout.arm} of ${c.rollout.id}` : ''}`
}

/** The gap in words: "error rate 12.00% on safari vs 1.00% on chromium (a gap of 11.00 points)". */
function gapText(g: SliceGap): string {
  const metric = g.metric === 'error_rate' ? 'error rate' : 'accuracy'
  return `${metric} ${pct(g.worst.value, 2)} on ${g.worst.slice} vs ${pct(g.best.value, 2)} on ${g.best.slice} (a gap of ${num(g.gap * 100, 2)} points)`
}

function cohortTable(c: CohortSlices): HTMLElement {
  const rows = Object.entries(c.slices).sort(([a], [b]) => a.localeCompare(b))
  const gapSlices = c.gap ? new Set([c.gap.worst.slice, c.gap.best.slice]) : new Set<string>()
  return h(
    'div',
    { class: 'slice-cohort', 'data-cohort': cohortName(c) },
    h('h3', {}, cohortName(c)),
    c.gap
      ? h('p', { class: 'sub', 'data-testid': 'slice-gap' }, 'Largest gap: ', h('strong', {}, gapText(c.gap)))
      : h('p', { class: 'sub' }, 'No gap: fewer than two slices to compare.'),
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { class: 'compact slice-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'Slice'),
            h('th', { class: 'num' }, 'devices'),
            h('th', { class: 'num' }, 'inferences'),
            h('th', { class: 'num' }, 'error rate'),
            h('th', { class: 'num' }, 'latency p95'),
            h('th', { class: 'num' }, 'accuracy (labels)'),
          ),
        ),
        h(
          'tbody',
          {},
          rows.map(([slice, m]) =>
            m.suppressed
              ? h(
                  'tr',
                  { 'data-testid': `slice-row-${slice}`, 'data-suppressed': 'true' },
                  h('th', { scope: 'row', class: 'mono' }, slice),
                  h('td', { colspan: 5, class: 'sub' }, `hidden: fewer than k = ${m.minDevices} devices`),
                )
              : h(
                  'tr',
                  {
                    'data-testid': `slice-row-${slice}`,
                    'data-suppressed': 'false',
                    class: c.gap?.worst.slice === slice ? 'worst' : gapSlices.has(slice) ? 'best' : '',
                  },
                  h(
                    'th',
                    { scope: 'row', class: 'mono' },
                    slice,
                    c.gap?.worst.slice === slice ? h('span', { class: 'tag worst-tag' }, 'worst') : null,
                  ),
                  h('td', { class: 'num' }, num(m.devices)),
                  h('td', { class: 'num' }, num(m.inferences)),
                  h('td', { class: 'num', 'data-error-rate': String(m.errorRate) }, pct(m.errorRate, 2)),
                  h('td', { class: 'num' }, m.latencyMs ? `${num(m.latencyMs.p95, 1)} ms` : '—'),
                  h(
                    'td',
                    { class: 'num' },
                    m.feedback ? `${pct(m.feedback.accuracy, 1)} of ${num(m.feedback.labeled)}` : '—',
                  ),
                ),
          ),
        ),
      ),
    ),
  )
}

/**
 * The panel for `model` over the fleet page's range: a picker of the dimension (kept in the URL's
 * `slice=`) and, per cohort, its slices. Reads `GET /v1/models/:model/telemetry?slice=`.
 */
export function slicesPanel(o: {
  model: string
  from: number
  granularity: string
  dimension: SliceDimension
  onDimension: (d: SliceDimension) => void
}): { element: HTMLElement; draw: () => Promise<void> } {
  const content = h('div', {})
  const picker = h(
    'select',
    {
      'aria-label': 'Slice by',
      'data-testid': 'slice-dimension',
      onchange: (e: Event) => o.onDimension((e.target as HTMLSelectElement).value as SliceDimension),
    },
    DIMENSIONS.map(([d, label]) => h('option', { value: d, selected: d === o.dimension }, label)),
  )
  const element = h(
    'section',
    { class: 'card slices', 'data-testid': 'slices-panel' },
    h('h2', {}, 'Slices'),
    h('div', { class: 'toolbar' }, h('label', {}, 'Slice by ', picker)),
    content,
  )
  const draw = async () => {
    const view = await api<FleetView>(
      `/v1/models/${o.model}/telemetry?from=${o.from}&granularity=${o.granularity}&slice=${o.dimension}`,
    )
    const cohorts = view.slices?.cohorts ?? []
    if (cohorts.every((c) => Object.keys(c.slices).length === 0))
      return replace(
        content,
        note(
          o.dimension === 'cohort'
            ? 'No cohort labels in this range: devices send one only when the app sets createFleet({cohort}) from the model’s allow-list.'
            : 'No slices in this range.',
        ),
      )
    const shown = cohorts.filter((c) => Object.keys(c.slices).length > 0)
    replace(
      content,
      // With one cohort its own line says it; with several, the fleet's worst comes first.
      view.sliceGap && shown.length > 1
        ? h(
            'p',
            { class: 'slice-headline', 'data-testid': 'fleet-slice-gap' },
            `Largest gap in the fleet (${cohortName(view.sliceGap)}): `,
            h('strong', {}, gapText(view.sliceGap)),
          )
        : null,
      shown.map(cohortTable),
    )
  }
  return { element, draw }
}
