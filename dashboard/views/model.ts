import type { Event, Manifest, ModelDetail } from '../../core/formats/registry.ts'
import { api } from '../api.ts'
import { h, replace, when } from '../dom.ts'
import { can, type Me } from '../scopes.ts'
import { eventsTable } from './events-table.ts'

/** A link to the retraining run that produced a version, or a dash. */
function runLink(model: string, runId: string | undefined): HTMLElement | string {
  return runId
    ? h('a', { class: 'mono', href: `#/models/${model}/runs/${runId}`, title: runId }, runId.slice(0, 12) + '…')
    : '—'
}

/** A model page: versions with lineage, metrics and deprecation; aliases; the model's audit events. */
export async function render(root: HTMLElement, me: Me, [name]: string[]): Promise<void> {
  const [detail, events] = await Promise.all([
    api<ModelDetail>(`/v1/models/${name}`),
    api<{ events: Event[] }>(`/v1/events?model=${name}&limit=200`),
  ])
  const manifests = await Promise.all(
    detail.versions.map((v) => api<Manifest>(`/v1/models/${name}/versions/${v.version}`)),
  )
  // `?version=N` (a run's link to the version it published) marks that row.
  const marked = Number(new URLSearchParams(location.hash.split('?')[1] ?? '').get('version')) || null
  const runOf = new Map(detail.versions.map((v) => [v.version, v.runId]))
  const versions = h(
    'table',
    { 'data-testid': 'versions-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        [
          'Version',
          'Created',
          'Parent',
          'Data hash',
          'Code commit',
          'Trigger',
          'Run',
          'Metrics',
          'Aliases',
          'State',
        ].map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      manifests
        .slice()
        .reverse()
        .map((m) =>
          h(
            'tr',
            {
              class: [m.deprecated ? 'deprecated' : '', m.version === marked ? 'marked' : ''].join(' ').trim(),
              'data-version': m.version,
            },
            h('td', {}, `v${m.version}`),
            h('td', {}, when(m.lineage.createdAt), h('div', { class: 'sub' }, m.lineage.createdBy)),
            h('td', {}, m.lineage.parent ? `v${m.lineage.parent}` : '—'),
            h('td', { class: 'mono', title: m.lineage.dataHash ?? '' }, m.lineage.dataHash?.slice(0, 24) ?? '—'),
            h('td', { class: 'mono', title: m.lineage.codeCommit ?? '' }, m.lineage.codeCommit?.slice(0, 10) ?? '—'),
            h('td', { class: 'mono' }, m.lineage.triggerEvent ?? '—'),
            h('td', {}, runLink(name, m.lineage.runId ?? runOf.get(m.version))),
            h(
              'td',
              {},
              Object.entries(m.metrics).map(([k, v]) => h('div', {}, `${k} ${+v.toFixed(4)}`)),
            ),
            h(
              'td',
              {},
              m.aliases.map((a) => h('span', { class: 'tag' }, a)),
            ),
            h('td', {}, m.deprecated ? h('span', { class: 'status rolled_back' }, 'deprecated') : 'active'),
          ),
        ),
    ),
  )
  replace(
    root,
    h('h1', {}, name, h('span', { class: 'sub' }, ` ${detail.format} · ${detail.task || 'no task'}`)),
    detail.description ? h('p', {}, detail.description) : null,
    h(
      'p',
      { class: 'toolbar' },
      h('a', { class: 'button', href: `#/models/${name}/rollout` }, 'Rollout'),
      h('a', { class: 'button', href: `#/models/${name}/runs` }, 'Retraining runs'),
      can(me, 'telemetry:read') ? h('a', { class: 'button', href: `#/fleet/${name}` }, 'Fleet telemetry') : null,
    ),
    h('h2', {}, 'Aliases'),
    Object.keys(detail.aliases).length
      ? h(
          'p',
          {},
          Object.entries(detail.aliases).map(([a, v]) => h('span', { class: 'tag' }, `${a} → v${v}`)),
        )
      : h('p', { class: 'note' }, 'No aliases.'),
    h('h2', {}, 'Versions'),
    versions,
    h('h2', {}, 'Audit events'),
    eventsTable(events.events.slice().reverse()),
  )
  root.querySelector('tr.marked')?.scrollIntoView({ block: 'center' })
}
