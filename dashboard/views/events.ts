import type { Event, EventPage } from '../../core/formats/registry.ts'
import { allModels, api } from '../api.ts'
import { h, replace } from '../dom.ts'
import { can, type Me } from '../scopes.ts'
import { eventsTable } from './events-table.ts'

const FAMILIES = ['model', 'version', 'alias', 'rollout', 'policy', 'retrain', 'webhook', 'token']

/** The audit trail with filters by model and type family, and a live tail (polls for newer events). */
export async function render(root: HTMLElement, me: Me): Promise<() => void> {
  const models = can(me, 'registry:read') ? await allModels() : []
  const model = h(
    'select',
    { 'aria-label': 'Model' },
    h('option', { value: '' }, 'All models'),
    models.map((m) => h('option', {}, m.name)),
  )
  const family = h(
    'select',
    { 'aria-label': 'Event type' },
    h('option', { value: '' }, 'All types'),
    FAMILIES.map((f) => h('option', { value: `${f}.*` }, `${f}.*`)),
  )
  // A link may preset the filters: `#/events?model=weather&type=retrain.*`.
  const preset = new URLSearchParams(location.hash.split('?')[1] ?? '')
  model.value = preset.get('model') ?? ''
  family.value = preset.get('type') ?? ''
  const live = h('input', { type: 'checkbox', id: 'tail', checked: true })
  const box = h('div', {})
  let events: Event[] = []
  let cursor: string | null = null
  let timer = 0

  const query = (after: string | null) => {
    const q = new URLSearchParams({ limit: '500' })
    if (model.value) q.set('model', model.value)
    if (family.value) q.set('type', family.value)
    if (after) q.set('after', after)
    return `/v1/events?${q}`
  }
  // The API pages oldest first: read every page once, then keep the cursor for the tail.
  const load = async () => {
    events = []
    cursor = null
    for (;;) {
      const page: EventPage = await api<EventPage>(query(cursor))
      events.push(...page.events)
      if (page.next) cursor = page.next
      if (!page.hasMore) break
    }
    replace(box, eventsTable(events.slice().reverse()))
  }
  const tail = async () => {
    if (!live.checked) return
    const page = await api<EventPage>(query(cursor))
    if (page.next) cursor = page.next
    if (page.events.length) {
      events.push(...page.events)
      replace(box, eventsTable(events.slice().reverse()))
    }
  }
  model.addEventListener('change', () => void load())
  family.addEventListener('change', () => void load())
  await load()
  timer = window.setInterval(() => void tail().catch(() => undefined), 3000)
  replace(
    root,
    h('h1', {}, 'Events'),
    h('div', { class: 'toolbar' }, model, family, h('label', { for: 'tail' }, live, ' Live tail')),
    box,
  )
  return () => clearInterval(timer)
}
