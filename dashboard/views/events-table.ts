import type { Event } from '../../core/formats/registry.ts'
import { h, when } from '../dom.ts'

/** One-line summary of an event's details (the full JSON is one click away). */
function summary(e: Event): string {
  const d = e.details
  const parts = ['version', 'rollout', 'alias', 'mode', 'percent', 'reason', 'step', 'name']
    .filter((k) => d[k] !== undefined && typeof d[k] !== 'object')
    .map((k) => `${k}=${String(d[k])}`)
  return parts.join(' ')
}

/** A retraining event's run (`details.runId`), linked to the run's page. */
function runLink(e: Event): HTMLElement | null {
  const id = e.details.runId
  if (typeof id !== 'string' || !/^run_[0-9a-f]{20}$/.test(id) || !e.model) return null
  return h('a', { class: 'mono', href: `#/models/${e.model}/runs/${id}` }, `run ${id}`)
}

/** The audit trail as a table, newest first; retraining requests show their evidence expanded. */
export function eventsTable(events: Event[]): HTMLElement {
  return h(
    'table',
    { 'data-testid': 'events-table', class: 'events' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['When', 'Type', 'Model', 'Actor', 'Details'].map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      events.length === 0 ? h('tr', {}, h('td', { colspan: 5, class: 'note' }, 'No events match.')) : null,
      events.map((e) =>
        h(
          'tr',
          { 'data-type': e.type },
          h('td', { class: 'nowrap' }, when(e.at)),
          h('td', { class: 'mono' }, e.type),
          h('td', {}, e.model ?? '—'),
          h('td', {}, e.actor),
          h(
            'td',
            {},
            h(
              'details',
              { open: e.type.startsWith('retrain') },
              h('summary', {}, summary(e) || 'details'),
              runLink(e),
              h('pre', {}, JSON.stringify(e.details, null, 2)),
            ),
          ),
        ),
      ),
    ),
  )
}
