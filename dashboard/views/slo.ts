/**
 * @module
 * The SLO panel of the fleet page: per objective of the model (docs/slo.md), its state as of the
 * edge's last evaluation, the burn rate of each alerting window, and the error budget left over the
 * compliance period.
 */
import type { Objective, ObjectiveStatus, SloStatus, SloView, WindowBurn } from '../../core/formats/slo.ts'
import { apiOrNull } from '../api.ts'
import { h, num, pct, when } from '../dom.ts'

const STATE_LABELS: Record<ObjectiveStatus['state'], string> = {
  ok: 'ok',
  'breached-fast': 'breached (fast burn)',
  'breached-slow': 'breached (slow burn)',
}

/** What an objective promises, in words, with its bound from the config when there is one. */
function objectiveText(o: ObjectiveStatus, config: Objective | undefined): string {
  const bound = config && 'thresholdMs' in config ? ` under ${num(config.thresholdMs, 1)} ms` : ''
  switch (o.kind) {
    case 'latency':
      return `p${Math.round(o.target * 100)} latency${bound}: ${pct(o.target, 0)} of inferences${bound ? '' : ' within bound'}`
    case 'load_time':
      return `p${Math.round(o.target * 100)} load time${bound}: ${pct(o.target, 0)} of loads${bound ? '' : ' within bound'}`
    case 'error_rate':
      return `${pct(o.target, 2)} of inferences without error`
    case 'fallback_rate':
      return `${pct(o.target, 2)} of loads on the preferred backend`
  }
}

/** The budget left: a share while some is left, how many budgets were spent once it is overspent. */
function budgetText(left: number | null): string {
  if (left === null) return 'hidden (k)'
  if (left >= 0) return pct(left, 1)
  return `overspent: ${(1 - left).toFixed(1)}× the budget`
}

function burn(w: WindowBurn | undefined): string {
  if (!w) return '—'
  if (w.suppressed) return 'hidden (k)'
  return w.burnRate === null ? 'no events' : `${w.burnRate.toFixed(2)}×`
}

/** The panel for `model`: its objectives' states and budgets, or what to do when it has none. */
export async function sloPanel(model: string): Promise<HTMLElement> {
  const box = h('section', { class: 'card slo', 'data-testid': 'slo-panel' }, h('h2', {}, 'Service-level objectives'))
  const [status, config] = await Promise.all([
    apiOrNull<SloStatus>(`/v1/models/${model}/slo/status`),
    apiOrNull<SloView>(`/v1/models/${model}/slo`),
  ])
  if (!status) {
    box.append(
      h(
        'p',
        { class: 'note', 'data-testid': 'slo-empty' },
        config
          ? `SLOs are set (revision ${config.revision}); the edge evaluates them every minute and the first evaluation is pending.`
          : 'No SLOs for this model. Set objectives on latency, error rate, load time or fallback rate with `edgefleet slo set` (docs/slo.md).',
      ),
    )
    return box
  }
  const breached = status.objectives.filter((o) => o.state !== 'ok').length
  box.append(
    h(
      'p',
      { class: 'sub' },
      `Version ${status.version ?? '—'} · compliance period ${status.period} · evaluated ${when(status.evaluatedAt)} · `,
      h(
        'strong',
        { class: breached ? 'slo-breached' : 'slo-ok' },
        breached ? `${breached} of ${status.objectives.length} breached` : 'all within budget',
      ),
    ),
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { class: 'compact slo-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'Objective'),
            h('th', {}, 'State'),
            h('th', { class: 'num', title: 'fast burn pair: page when both exceed 14.4×' }, 'burn 5 m / 1 h'),
            h('th', { class: 'num', title: 'slow burn pair: ticket when both exceed 6×' }, 'burn 30 m / 6 h'),
            h('th', {}, 'Error budget left'),
          ),
        ),
        h(
          'tbody',
          {},
          status.objectives.map((o) => {
            const w = (name: string) => o.windows.find((x) => x.window === name)
            const left = o.budget.remaining
            return h(
              'tr',
              { 'data-testid': `slo-row-${o.name}`, 'data-state': o.state },
              h(
                'th',
                { scope: 'row' },
                h('span', { class: 'mono' }, o.name),
                h(
                  'div',
                  { class: 'sub' },
                  objectiveText(
                    o,
                    config?.objectives.find((c) => c.name === o.name),
                  ),
                ),
              ),
              h(
                'td',
                {},
                h('span', { class: `status ${o.state === 'ok' ? 'ok' : 'breach'}` }, STATE_LABELS[o.state]),
                o.since ? h('div', { class: 'sub' }, `since ${when(o.since)}`) : null,
              ),
              h('td', { class: 'num' }, `${burn(w('5m'))} / ${burn(w('1h'))}`),
              h('td', { class: 'num' }, `${burn(w('30m'))} / ${burn(w('6h'))}`),
              h(
                'td',
                {},
                h(
                  'div',
                  { class: 'rate-cell' },
                  h(
                    'span',
                    { class: 'bar-track' },
                    h('span', {
                      class: `bar-fill budget-fill${left !== null && left < 0.25 ? ' low' : ''}`,
                      style: `width:${left === null ? 0 : (Math.max(0, Math.min(1, left)) * 100).toFixed(1)}%`,
                    }),
                  ),
                  h('span', { class: 'num', 'data-budget': left === null ? '' : String(left) }, budgetText(left)),
                ),
              ),
            )
          }),
        ),
      ),
    ),
  )
  return box
}
