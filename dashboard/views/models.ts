import type { FleetView } from '../../core/formats/fleet.ts'
import type { ModelDetail } from '../../core/formats/registry.ts'
import type { RolloutView } from '../../core/formats/rollout.ts'
import { allModels, api } from '../api.ts'
import { sparkline } from '../sparkline.ts'
import { h, note, replace } from '../dom.ts'
import { can, type Me } from '../scopes.ts'

/** Inferences per hour over the last 24 h, summed over every unsuppressed cohort point. */
async function inferenceSeries(model: string): Promise<number[]> {
  const view = await api<FleetView>(`/v1/models/${model}/telemetry?granularity=hour`)
  const byStart = new Map<number, number>()
  for (let t = view.from; t < view.to; t += 3_600_000) byStart.set(t, 0)
  for (const c of view.cohorts)
    for (const p of c.series) if (!p.suppressed) byStart.set(p.start, (byStart.get(p.start) ?? 0) + p.inferences)
  return [...byStart.values()]
}

/** The models list: format, task, latest version, aliases, rollout state, inference sparkline; searchable. */
export async function render(root: HTMLElement, me: Me): Promise<void> {
  const models = await allModels()
  const search = h('input', { type: 'search', placeholder: 'Search models', 'aria-label': 'Search models' })
  const tbody = h('tbody', {})
  const table = h(
    'table',
    { 'data-testid': 'models-list' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Model', 'Format', 'Task', 'Latest', 'Aliases', 'Rollout', 'Inferences (24 h)'].map((c) => h('th', {}, c)),
      ),
    ),
    tbody,
  )
  const rows = models.map((m) => {
    const rollout = h('td', {}, '…')
    const spark = h('td', {}, can(me, 'telemetry:read') ? '…' : '—')
    const tr = h(
      'tr',
      { 'data-testid': `model-row-${m.name}` },
      h(
        'td',
        {},
        h('a', { href: `#/models/${m.name}` }, m.name),
        m.description ? h('div', { class: 'sub' }, m.description) : null,
      ),
      h('td', {}, m.format),
      h('td', {}, m.task || '—'),
      h('td', {}, m.latestVersion === null ? '—' : `v${m.latestVersion}`),
      h(
        'td',
        {},
        Object.entries(m.aliases).map(([a, v]) => h('span', { class: 'tag' }, `${a} → v${v}`)),
      ),
      rollout,
      spark,
    )
    void api<ModelDetail>(`/v1/models/${m.name}`).then((d) => {
      const r = d.rollout as RolloutView | null
      replace(
        rollout,
        r
          ? h('a', { href: `#/models/${m.name}/rollout`, class: `status ${r.status}` }, `${r.status} · ${r.percent}%`)
          : h('span', { class: 'sub' }, 'none'),
      )
    })
    if (can(me, 'telemetry:read'))
      void inferenceSeries(m.name).then(
        (s) => replace(spark, sparkline(s, `${s.reduce((a, b) => a + b, 0)} inferences in 24 h`)),
        () => replace(spark, '—'),
      )
    tbody.append(tr)
    return { m, tr }
  })
  search.addEventListener('input', () => {
    const q = search.value.trim().toLowerCase()
    for (const { m, tr } of rows)
      tr.hidden = q !== '' && !`${m.name} ${m.task} ${m.description}`.toLowerCase().includes(q)
  })
  replace(
    root,
    h('h1', {}, 'Models'),
    h('div', { class: 'toolbar' }, search),
    table,
    models.length
      ? null
      : note('No models yet: publish one with `edgefleet publish`, or start the edge with `npm start`.'),
  )
}
