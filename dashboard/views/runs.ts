/**
 * @module
 * A model's retraining runs (`#/models/<name>/runs`), newest first, a page at a time as
 * `GET /v1/models/:model/runs` pages them (`?before=<cursor>` in the hash for older ones), optionally
 * of one status (`?status=rejected`).
 */
import type { ModelDetail } from '../../core/formats/registry.ts'
import type { Run, RunPage } from '../../core/formats/run.ts'
import { api } from '../api.ts'
import { h, note, pct, replace, when } from '../dom.ts'
import { can, type Me } from '../scopes.ts'
import { duration, gateChip, rolloutLink, runStatus, triggerLink, versionLink } from './run-parts.ts'

const STATUSES = ['completed', 'rejected', 'failed']

/** Runs per page: each row carries its gates, so ten fill a 1280×800 screen. */
export const RUNS_PER_PAGE = 10

function row(model: string, r: Run, parents: Map<number, number | null>): HTMLElement {
  const parent = r.version === null ? undefined : parents.get(r.version)
  const champion = r.champion
  return h(
    'tr',
    { 'data-testid': `run-row-${r.id}`, 'data-status': r.status },
    h(
      'td',
      {},
      h('a', { class: 'mono', href: `#/models/${model}/runs/${r.id}` }, r.id),
      h('div', { class: 'sub' }, `${r.params.family} · seed ${r.params.seed} · by ${r.createdBy}`),
    ),
    h('td', { class: 'nowrap' }, triggerLink(model, r, true)),
    h('td', {}, runStatus(r)),
    h(
      'td',
      { class: 'nowrap' },
      when(r.startedAt),
      h(
        'div',
        { class: 'sub' },
        `→ ${new Date(r.finishedAt).toLocaleTimeString()} · ${duration(r.finishedAt - r.startedAt)}`,
      ),
    ),
    h(
      'td',
      { class: 'nowrap', 'data-testid': 'run-accuracy' },
      r.metrics ? pct(r.metrics.accuracy) : '—',
      champion
        ? h(
            'div',
            { class: 'sub' },
            `${champion.kind === 'version' ? `v${champion.version}` : 'majority'} ${pct(champion.metrics.accuracy)}`,
          )
        : null,
    ),
    h(
      'td',
      { class: 'gates' },
      r.gates.length
        ? r.gates.map(gateChip)
        : r.error
          ? h('span', { class: 'sub', title: r.error }, 'no gates run')
          : '—',
    ),
    h(
      'td',
      { 'data-testid': 'run-version' },
      versionLink(model, r.version),
      parent === undefined
        ? null
        : h('span', { class: 'sub' }, parent === null ? ' no parent' : [' ← ', versionLink(model, parent)]),
    ),
    h('td', { class: 'rollout-cell' }, rolloutLink(model, r.rollout)),
  )
}

/** The runs table of one model, newest first, with older pages behind a link. */
export async function render(root: HTMLElement, me: Me, [model]: string[]): Promise<void> {
  const heading = h('h1', {}, h('a', { href: `#/models/${model}` }, model), ' · retraining runs')
  if (!can(me, 'registry:read')) return replace(root, heading, note('Runs need a token with registry:read.', 'error'))
  const q = new URLSearchParams(location.hash.split('?')[1] ?? '')
  const before = q.get('before')
  const status = STATUSES.includes(q.get('status') ?? '') ? q.get('status')! : ''
  // The address of a page of this list: the status filter stays, the cursor is the page's own.
  const at = (cursor: string | null, st = status) => {
    const p = new URLSearchParams()
    if (st) p.set('status', st)
    if (cursor) p.set('before', cursor)
    const search = String(p)
    return `#/models/${model}/runs${search ? `?${search}` : ''}`
  }
  const query = new URLSearchParams({ limit: String(RUNS_PER_PAGE) })
  if (status) query.set('status', status)
  if (before) query.set('before', before)
  const [page, detail] = await Promise.all([
    api<RunPage>(`/v1/models/${model}/runs?${query}`),
    api<ModelDetail>(`/v1/models/${model}`),
  ])
  const parents = new Map(detail.versions.map((v) => [v.version, v.parent]))
  const pager = h(
    'p',
    { class: 'toolbar' },
    before ? h('a', { class: 'button', href: at(null) }, '← Newest runs') : null,
    page.next ? h('a', { class: 'button', 'data-testid': 'runs-older', href: at(page.next) }, 'Older runs →') : null,
  )
  const filter = h(
    'select',
    {
      'aria-label': 'Status',
      'data-testid': 'runs-status',
      onchange: (e: Event) => (location.hash = at(null, (e.target as HTMLSelectElement).value)),
    },
    h('option', { value: '' }, 'All statuses'),
    STATUSES.map((st) => h('option', { value: st, selected: st === status }, st)),
  )
  if (page.runs.length === 0 && !before && !status)
    return replace(
      root,
      heading,
      h(
        'section',
        { class: 'card', 'data-testid': 'runs-empty' },
        h('h2', {}, 'No retraining run recorded yet'),
        h(
          'p',
          {},
          'A run trains a candidate on labelled data, checks it against the gates and the current production version, and records itself here. Start one from a machine with a registry:write token:',
        ),
        h(
          'pre',
          { class: 'command' },
          `npx edgefleet retrain ${model} --data <file.csv> --label <column> --gate accuracy:min=0.7 --publish`,
        ),
        h(
          'p',
          { class: 'sub' },
          'Or let ',
          h('code', {}, 'edgefleet retrain --watch'),
          ' answer the fleet’s retrain.requested events as they come (README, “Retraining”).',
        ),
      ),
    )
  const table = h(
    'table',
    { 'data-testid': 'runs-table', class: 'runs' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        [
          'Run (family · seed)',
          'Trigger',
          'Status',
          'Started → ended',
          'Accuracy (champion)',
          'Gates: measured vs limit',
          'Version ← parent',
          'Rollout',
        ].map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      page.runs.length === 0
        ? h('tr', {}, h('td', { colspan: 8, class: 'note' }, status ? `No ${status} run.` : 'No older runs.'))
        : null,
      page.runs.map((r) => row(model, r, parents)),
    ),
  )
  replace(
    root,
    heading,
    h(
      'p',
      { class: 'sub' },
      'Holdout accuracy of the candidate over the champion’s on the same rows. Newest first. A completed run passed every gate; a rejected one failed a gate and published nothing; a failed one broke before its gates were judged.',
    ),
    h('div', { class: 'toolbar' }, filter),
    h('div', { class: 'table-scroll' }, table),
    pager,
  )
}
