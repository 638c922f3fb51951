import type { CohortMetrics, FleetView } from '../../core/formats/fleet.ts'
import type { Manifest } from '../../core/formats/registry.ts'
import { api } from '../api.ts'
import { h, note, num, replace, when } from '../dom.ts'

const COLUMNS = 8

/** Which cohort a heatmap reads: one version × role × arm of the fleet view. */
export interface CohortKey {
  version: number
  role: string
  arm: string | null
}

function matches(c: FleetView['cohorts'][number], k: CohortKey): boolean {
  return c.version === k.version && c.role === k.role && (c.rollout?.arm ?? null) === k.arm
}

/** JS distance (0…1) → a sequential colour; the scale tops out at 0.3, far past any threshold in use. */
function colour(js: number | null): string {
  if (js === null) return 'var(--cell-empty)'
  const t = Math.min(1, js / 0.3)
  return `hsl(${(50 - 50 * t).toFixed(0)} 85% ${(88 - 45 * t).toFixed(0)}%)`
}

/** The reference histogram of a feature from the version's profile, as bars with its bin labels. */
function referenceChart(
  profile: NonNullable<Manifest['profile']>['features'][string],
  current: CohortMetrics['features'][string] | undefined,
): HTMLElement {
  const total = profile.counts.reduce((a, b) => a + b, 0) || 1
  const labels =
    profile.type === 'numeric'
      ? profile.counts.map((_, i) =>
          i === 0
            ? `< ${profile.edges[0]}`
            : i === profile.edges.length
              ? `≥ ${profile.edges[i - 1]}`
              : `${profile.edges[i - 1]}–${profile.edges[i]}`,
        )
      : [...profile.categories, 'other']
  const curCounts = current?.counts
  const curTotal = curCounts ? curCounts.reduce((a, b) => a + b, 0) || 1 : 1
  // Bars are scaled to the largest share on either side, so a 20-bin histogram is still readable.
  const scale = Math.max(1e-9, ...profile.counts.map((c) => c / total), ...(curCounts ?? []).map((c) => c / curTotal))
  return h(
    'div',
    { class: 'histo', 'data-testid': 'drift-histogram' },
    h(
      'div',
      { class: 'legend' },
      h('span', { class: 'sw ref' }),
      ' reference',
      curCounts ? [h('span', { class: 'sw cur' }), ' current'] : null,
    ),
    profile.counts.map((c, i) =>
      h(
        'div',
        { class: 'histo-row' },
        h('span', { class: 'bar-label mono' }, labels[i] ?? `bin ${i}`),
        h(
          'span',
          { class: 'bar-track' },
          h('span', { class: 'bar-fill ref', style: `width:${((c / total / scale) * 100).toFixed(1)}%` }),
          curCounts
            ? h('span', {
                class: 'bar-fill cur',
                style: `width:${(((curCounts[i] ?? 0) / curTotal / scale) * 100).toFixed(1)}%`,
              })
            : null,
        ),
        h(
          'span',
          { class: 'bar-value' },
          `${((c / total) * 100).toFixed(1)}%${curCounts ? ` / ${(((curCounts[i] ?? 0) / curTotal) * 100).toFixed(1)}%` : ''}`,
        ),
      ),
    ),
  )
}

/**
 * The drift heatmap of one cohort: a row per feature, a column per slice of the range (each a fleet
 * read of its own, since series points carry no per-feature drift), colour = JS distance, ✕ where
 * the verdict is `drifted`. The row header holds the verdict over the whole range; a click opens
 * the reference histogram beside the current one.
 */
export async function driftHeatmap(
  model: string,
  view: FleetView,
  key: CohortKey,
  canReadRegistry: boolean,
): Promise<HTMLElement> {
  const whole = view.cohorts.find((c) => matches(c, key))
  const total = whole && !whole.total.suppressed ? whole.total : null
  const box = h(
    'section',
    { class: 'card', 'data-testid': 'drift-heatmap' },
    h('h2', {}, `Drift · v${key.version} ${key.role}${key.arm ? ` · ${key.arm}` : ''}`),
  )
  if (!total) {
    box.append(note(`This cohort is suppressed over the range (fewer than ${view.minDevices} devices).`))
    return box
  }
  const features = Object.keys(total.features).sort()
  if (features.length === 0) {
    box.append(note('No feature histograms were reported for this cohort.'))
    return box
  }
  const span = view.to - view.from
  const slices = Array.from({ length: COLUMNS }, (_, i) => ({
    from: view.from + Math.floor((span * i) / COLUMNS),
    to: view.from + Math.floor((span * (i + 1)) / COLUMNS),
  }))
  const step = view.granularity === 'minute' ? 60_000 : 3_600_000
  const columns = await Promise.all(
    slices.map(async (s) => {
      const from = Math.floor(s.from / step) * step
      const to = Math.max(from + step, Math.ceil(s.to / step) * step)
      const v = await api<FleetView>(
        `/v1/models/${model}/telemetry?from=${from}&to=${to}&granularity=${view.granularity}&version=${key.version}`,
      )
      const c = v.cohorts.find((x) => matches(x, key))
      return { ...s, metrics: c ? c.total : null }
    }),
  )
  // The reference histograms need registry:read; a telemetry-only token still gets the heatmap.
  const manifest = canReadRegistry ? await api<Manifest>(`/v1/models/${model}/versions/${key.version}`) : null
  const detail = h(
    'div',
    { class: 'drift-detail' },
    h('p', { class: 'note' }, 'Choose a feature to compare its reference and current distributions.'),
  )
  const show = (f: string) => {
    const s = total.features[f]
    const ref = manifest?.profile?.features[f]
    replace(
      detail,
      h('h3', {}, f),
      h(
        'p',
        { class: 'sub' },
        `verdict ${s.reason.replaceAll('_', ' ')} · n ${s.n} (missing ${s.missing}) · JS ${num(s.js)} · PSI ${num(s.psi)} · KS ${num(s.ks)} · χ² p ${num(s.chi2_p, 4)}`,
      ),
      ref
        ? referenceChart(ref, s)
        : note(
            manifest
              ? 'The version has no reference profile for this feature.'
              : 'The reference histogram needs a token with registry:read.',
          ),
    )
  }
  const table = h(
    'table',
    { class: 'heatmap' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'Feature (whole range)'),
        columns.map((c) =>
          h(
            'th',
            { class: 'sub' },
            new Date(c.from).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }),
          ),
        ),
      ),
    ),
    h(
      'tbody',
      {},
      features.map((f) => {
        const s = total.features[f]
        return h(
          'tr',
          {},
          h(
            'th',
            { scope: 'row' },
            h(
              'button',
              {
                type: 'button',
                class: `cell-head${s.drifted ? ' drifted' : ''}`,
                'data-testid': `drift-cell-${f}`,
                'data-drifted': String(s.drifted),
                onclick: () => show(f),
                title: `JS ${num(s.js)} · ${s.reason}`,
              },
              f,
              s.drifted ? ' ✕' : '',
              h('span', { class: 'sub' }, ` JS ${num(s.js, 2)}`),
            ),
          ),
          columns.map((c) => {
            const m = c.metrics && !c.metrics.suppressed ? c.metrics.features[f] : undefined
            const label = c.metrics?.suppressed
              ? `suppressed (k=${c.metrics.minDevices})`
              : m
                ? `JS ${num(m.js)} ${m.reason}`
                : 'no data'
            return h(
              'td',
              {
                class: `cell${m?.drifted ? ' drifted' : ''}${c.metrics?.suppressed ? ' suppressed' : ''}`,
                style: `background:${colour(m?.js ?? null)}`,
                title: `${when(c.from)} – ${when(c.to)}: ${label}`,
                onclick: () => show(f),
              },
              m?.drifted ? '✕' : c.metrics?.suppressed ? 'k' : '',
            )
          }),
        )
      }),
    ),
  )
  box.append(
    h(
      'p',
      { class: 'sub' },
      'Colour: Jensen–Shannon distance to the reference (pale 0 → dark ≥ 0.3); ✕ drifted; k: suppressed slice.',
    ),
    h('div', { class: 'drift-layout' }, table, detail),
  )
  return box
}
