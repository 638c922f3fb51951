import type { Event as AuditEvent, ModelDetail } from '../../core/formats/registry.ts'
import type { ArmView, Guardrail, RolloutStep, RolloutView } from '../../core/formats/rollout.ts'
import type { GuardrailResult, StepProgress } from '../../core/rollout/decide.ts'
import type { SrmResult } from '../../core/rollout/srm.ts'
import { api, apiOrNull } from '../api.ts'
import { h, note, num, pct, replace, when } from '../dom.ts'
import { can, type Me } from '../scopes.ts'
import { confirmAction, type Action } from './rollout-dialog.ts'

const ACTIONS: Action[] = ['pause', 'resume', 'advance', 'rollback', 'promote']

/** Which manual actions the edge accepts in a status (edge/control: resume only when paused, none once ended). */
function allowed(status: RolloutView['status'], action: Action): boolean {
  if (status === 'rolled_back' || status === 'promoted') return false
  if (action === 'resume') return status === 'paused'
  if (action === 'pause') return status === 'running'
  return true
}

/** The steps as a strip (share per step, the current one marked) and the transitions below it. */
function timeline(v: RolloutView): HTMLElement {
  const steps = (v.config as { steps?: RolloutStep[] }).steps ?? []
  return h(
    'section',
    { 'data-testid': 'rollout-timeline', class: 'card' },
    h('h2', {}, 'Timeline'),
    h(
      'ol',
      { class: 'steps' },
      steps.map((s, i) =>
        h(
          'li',
          { class: i === v.step ? 'current' : i < v.step ? 'done' : '', 'aria-current': i === v.step ? 'step' : false },
          h('strong', {}, `${s.percent}%`),
          h('span', { class: 'sub' }, `step ${i + 1} · ≥${s.minMinutes} min · ≥${s.minDevices} dev`),
        ),
      ),
    ),
    h(
      'ul',
      { class: 'transitions' },
      v.transitions
        .slice()
        .reverse()
        .map((t) =>
          h(
            'li',
            {},
            h('span', { class: 'nowrap' }, when(t.at)),
            ' ',
            h('strong', {}, t.action),
            ` → ${t.to.status} at step ${t.to.step + 1} · ${t.reason} · by ${t.actor}`,
          ),
        ),
    ),
  )
}

/** The configured guardrails before the first evaluation: limits known, nothing judged yet. */
function pending(config: Guardrail[]): GuardrailResult[] {
  return config.map((g) => ({
    metric: g.metric,
    status: 'not_judged',
    reason: 'no_data',
    value: null,
    limit:
      'maxDiff' in g && g.maxDiff !== undefined
        ? g.maxDiff
        : 'max' in g && g.max !== undefined
          ? g.max
          : 'maxRatio' in g
            ? g.maxRatio
            : 'minRatio' in g
              ? g.minRatio
              : 0,
    stats: {},
  }))
}

/** Guardrails: live value against its limit, with the sequential test's p-value. */
function guardrails(results: GuardrailResult[]): HTMLElement {
  return h(
    'table',
    { 'data-testid': 'guardrails' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Guardrail', 'Status', 'Value', 'Limit', 'p-value (always valid)', 'Note'].map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      results.length === 0 ? h('tr', {}, h('td', { colspan: 6, class: 'note' }, 'No guardrails configured.')) : null,
      results.map((g) =>
        h(
          'tr',
          {},
          h('td', { class: 'mono' }, g.metric),
          h('td', {}, h('span', { class: `status ${g.status}` }, g.status.replace('_', ' '))),
          h('td', {}, num(g.value, 4)),
          h('td', {}, num(g.limit, 4)),
          h('td', {}, g.test ? `${num(g.test.pvalue, 4)} (α ${num(g.test.alpha, 4)})` : '—'),
          h('td', { class: 'sub' }, g.reason === 'judged' ? '' : g.reason.replaceAll('_', ' ')),
        ),
      ),
    ),
  )
}

function arms(a: { baseline: ArmView; candidate: ArmView }): HTMLElement {
  const rows: [string, (x: ArmView) => string][] = [
    ['version', (x) => `v${x.version}`],
    ['devices (settled)', (x) => `${x.devices} (${x.settledDevices})`],
    ['inferences', (x) => num(x.inferences)],
    ['errors', (x) => num(x.errors)],
    ['error rate (per device)', (x) => pct(x.errorRate, 2)],
    ['fallback rate', (x) => pct(x.fallbackRate, 2)],
    ['latency p95', (x) => (x.latencyP95 === null ? '—' : `${num(x.latencyP95, 2)} ms`)],
    ['max JS drift', (x) => num(x.driftJsMax, 3)],
    ['shadow agreed', (x) => `${x.shadow.agreed}/${x.shadow.compared}`],
    ['feedback correct', (x) => `${x.feedback.correct}/${x.feedback.labeled}`],
  ]
  return h(
    'table',
    { 'data-testid': 'arm-stats' },
    h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'Baseline'), h('th', {}, 'Candidate'))),
    h(
      'tbody',
      {},
      rows.map(([label, f]) =>
        h('tr', {}, h('th', { scope: 'row' }, label), h('td', {}, f(a.baseline)), h('td', {}, f(a.candidate))),
      ),
    ),
  )
}

function srmLine(s: SrmResult | null): HTMLElement {
  if (!s) return h('p', { class: 'note' }, 'Sample-ratio check: not run yet.')
  return h(
    'p',
    { 'data-testid': 'srm', class: s.srm ? 'note error' : 'note' },
    `Sample-ratio check: ${s.reason.replace('_', ' ')} — observed ${s.observed.baseline} baseline / ${s.observed.candidate} candidate devices, expected candidate share ${pct(s.expectedShare)}, χ² ${num(s.statistic, 2)}, p ${num(s.pvalue, 4)}`,
  )
}

/** The rollout view: current (or a past one picked from the audit trail), its steps, statistics and controls. */
export async function render(root: HTMLElement, me: Me, [model]: string[]): Promise<() => void> {
  const picked = new URLSearchParams(location.hash.split('?')[1] ?? '').get('id')
  const [started, detail] = await Promise.all([
    api<{ events: AuditEvent[] }>(`/v1/events?model=${model}&type=rollout.started&limit=500`),
    api<ModelDetail>(`/v1/models/${model}`),
  ])
  // Past rollouts are known from the audit trail; asking only for one that exists keeps the console clean of 404s.
  const ids = started.events.map((e) => String(e.details.rollout)).reverse()
  const id = picked ?? ids[0]
  const view = id ? await apiOrNull<RolloutView>(`/v1/models/${model}/rollouts/${id}`) : null
  const message = h('div', { 'aria-live': 'polite' })
  // Re-run the route: the router clears this view's timer before drawing it again.
  const refresh = () => window.dispatchEvent(new HashChangeEvent('hashchange'))
  const pick = h(
    'select',
    {
      'aria-label': 'Rollout',
      onchange: (e: Event) => (location.hash = `#/models/${model}/rollout?id=${(e.target as HTMLSelectElement).value}`),
    },
    ids.map((id) => h('option', { value: id, selected: id === view?.id }, id)),
  )
  const parts: HTMLElement[] = [
    h('h1', {}, `Rollout · `, h('a', { href: `#/models/${model}` }, model)),
    h(
      'div',
      { class: 'toolbar' },
      ids.length > 1 ? pick : null,
      h('button', { type: 'button', onclick: refresh }, 'Refresh'),
    ),
    message,
  ]
  if (!view) parts.push(note('This model has no rollout yet.'))
  else {
    const d = view.lastDecision
    const ev = d?.evidence as
      { guardrails?: GuardrailResult[]; srm?: SrmResult | null; step?: StepProgress | null } | undefined
    parts.push(
      h(
        'section',
        { class: 'card summary' },
        h(
          'p',
          {},
          h('span', { class: `status ${view.status}`, 'data-testid': 'rollout-status' }, view.status),
          ` ${view.id} · mode ${String((view.config as { mode?: string }).mode)} · candidate v${String((view.config as { candidate?: number }).candidate)} vs baseline v${String((view.config as { baseline?: number }).baseline)} · share now ${view.percent}% · step ${view.step + 1}/${(view.config as { steps?: unknown[] }).steps?.length ?? '?'}`,
        ),
        view.reason ? h('p', {}, `Reason: ${view.reason}`) : null,
        view.nextEvaluationAt ? h('p', { class: 'sub' }, `Next evaluation ${when(view.nextEvaluationAt)}`) : null,
        can(me, 'rollout:write')
          ? h(
              'div',
              { class: 'toolbar actions' },
              ACTIONS.map((a) =>
                h(
                  'button',
                  {
                    type: 'button',
                    class: a === 'rollback' ? 'danger' : '',
                    'data-testid': `rollout-action-${a}`,
                    disabled: !allowed(view.status, a),
                    onclick: () =>
                      confirmAction(model, view, a, (msg) => {
                        refresh()
                        replace(message, msg)
                      }),
                  },
                  a,
                ),
              ),
            )
          : null,
      ),
      timeline(view),
      h(
        'section',
        { class: 'card' },
        h('h2', {}, 'Last decision'),
        d
          ? h(
              'p',
              { 'data-testid': 'last-decision' },
              h('strong', {}, d.action),
              ` — ${d.reason} at ${when(d.at)} (step ${d.step + 1}; window ${when(d.window.from)} … ${when(d.window.to)})`,
            )
          : note('Not evaluated yet.'),
        ev?.step
          ? h(
              'p',
              { class: 'sub' },
              `Step progress: ${num(ev.step.minutes, 1)} min; devices ${ev.step.devices.baseline}/${ev.step.devices.candidate}; inferences ${ev.step.inferences.baseline}/${ev.step.inferences.candidate} (baseline/candidate)`,
            )
          : null,
        h('h3', {}, 'Guardrails'),
        guardrails(ev?.guardrails ?? pending((view.config as { guardrails?: Guardrail[] }).guardrails ?? [])),
        srmLine(ev?.srm ?? null),
        h('h3', {}, 'Per-arm statistics'),
        d ? arms(d.arms) : note('No statistics until the first evaluation.'),
      ),
    )
  }
  const active = view && (view.status === 'running' || view.status === 'paused')
  if (can(me, 'rollout:write') && !active) {
    const { startForm } = await import('./rollout-form.ts')
    parts.push(
      startForm(model, detail, () => {
        location.hash = `#/models/${model}/rollout`
        refresh()
      }),
    )
  }
  replace(root, ...parts)
  const timer = window.setInterval(() => {
    if (active && !document.querySelector('dialog[open]')) refresh()
  }, 15_000)
  return () => clearInterval(timer)
}
