import { RolloutConfig } from '../../core/formats/rollout.ts'
import type { ModelDetail } from '../../core/formats/registry.ts'
import { api, ApiError } from '../api.ts'
import { h, note, replace } from '../dom.ts'

const DEFAULT_STEPS = '5 10 10\n25 10 10\n50 10 10\n100 10 10'
const DEFAULT_GUARDRAILS = JSON.stringify(
  [
    { metric: 'error_rate', maxDiff: 0.02 },
    { metric: 'latency_p95', maxRatio: 1.5 },
  ],
  null,
  2,
)

/** Parses "percent minMinutes minDevices" lines into steps (the schema checks the values). */
function parseSteps(text: string): unknown[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [percent, minMinutes, minDevices] = l.split(/[\s,]+/).map(Number)
      return { percent, minMinutes, minDevices }
    })
}

/**
 * The start-rollout form: builds a RolloutConfig and checks it with the same core schema the CLI
 * and the edge use, so what is refused here would be refused there, with the same pointers.
 */
export function startForm(model: string, detail: ModelDetail, started: () => void): HTMLElement {
  const live = detail.versions.filter((v) => !v.deprecated)
  const production = detail.aliases.production
  const candidate = h(
    'select',
    { id: 'rf-candidate', 'data-testid': 'rollout-candidate' },
    live.map((v) => h('option', { value: v.version, selected: v.version === detail.latestVersion }, `v${v.version}`)),
  )
  const mode = h(
    'select',
    { id: 'rf-mode', 'data-testid': 'rollout-mode' },
    ['canary', 'ab', 'shadow'].map((m) => h('option', {}, m)),
  )
  const steps = h('textarea', { id: 'rf-steps', rows: 5, 'data-testid': 'rollout-steps' }, DEFAULT_STEPS)
  const guard = h('textarea', { id: 'rf-guardrails', rows: 7, 'data-testid': 'rollout-guardrails' }, DEFAULT_GUARDRAILS)
  const evaluation = h('input', { id: 'rf-eval', type: 'number', min: 10, max: 86400, value: 300 })
  const out = h('div', { 'aria-live': 'polite' })
  const form = h(
    'form',
    {
      class: 'card rollout-form',
      'data-testid': 'rollout-form',
      onsubmit: async (e: Event) => {
        e.preventDefault()
        let guardrails: unknown
        try {
          guardrails = JSON.parse(guard.value || '[]')
        } catch {
          return replace(out, note('Guardrails: not valid JSON.', 'error'))
        }
        const raw = {
          candidate: Number(candidate.value),
          mode: mode.value,
          steps: parseSteps(steps.value),
          guardrails,
          evaluationSeconds: Number(evaluation.value),
        }
        const parsed = RolloutConfig.safeParse(raw)
        if (!parsed.success)
          return replace(
            out,
            h(
              'ul',
              { class: 'note error', role: 'alert' },
              parsed.error.issues.map((i) => h('li', {}, `/${i.path.join('/')}: ${i.message}`)),
            ),
          )
        try {
          await api(`/v1/models/${model}/rollouts`, { method: 'POST', body: parsed.data })
          started()
        } catch (err) {
          replace(
            out,
            note(
              err instanceof ApiError
                ? `${err.code}${err.pointer ? ` at ${err.pointer}` : ''}: ${err.message}`
                : String(err),
              'error',
            ),
          )
        }
      },
    },
    h('h2', {}, 'Start a rollout'),
    h(
      'p',
      { class: 'sub' },
      production ? `Baseline: production (v${production}).` : 'No production alias: the edge will refuse without one.',
    ),
    h(
      'div',
      { class: 'grid2' },
      h('label', { for: 'rf-candidate' }, 'Candidate'),
      candidate,
      h('label', { for: 'rf-mode' }, 'Mode'),
      mode,
      h('label', { for: 'rf-steps' }, 'Steps: percent, min minutes, min devices per line'),
      steps,
      h('label', { for: 'rf-guardrails' }, 'Guardrails (JSON, rollout/1)'),
      guard,
      h('label', { for: 'rf-eval' }, 'Evaluation every (s)'),
      evaluation,
    ),
    out,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'rollout-start' }, 'Start rollout'),
  )
  return form
}
