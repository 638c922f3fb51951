/**
 * @module
 * One retraining run (`#/models/<name>/runs/<id>`): its steps from data to rollout, each gate's
 * evidence (measured value, limit, verdict), the candidate's holdout metrics beside the champion's on
 * the same rows (overall, per class, per slice), its parameters and data, and the error of a failed run.
 */
import type { ModelDetail } from '../../core/formats/registry.ts'
import type { GroupAccuracy, Run, RunMetrics } from '../../core/formats/run.ts'
import type * as z from 'zod'
import { api } from '../api.ts'
import { h, note, num, pct, replace, when, type Child } from '../dom.ts'
import { can, type Me } from '../scopes.ts'
import { duration, rolloutLink, runStatus, triggerLink, versionLink } from './run-parts.ts'

type StepState = 'done' | 'failed' | 'skipped'
type Group = z.infer<typeof GroupAccuracy>

/**
 * The run's steps as the retrainer takes them. A run records outcomes, not a step log, so each
 * step's state follows from what was recorded: no metrics means it broke before evaluating.
 */
function steps(model: string, r: Run): { name: string; state: StepState; detail: Child }[] {
  const evaluated = r.metrics !== null
  // A failed run with no rows never read its data; otherwise it broke while training.
  const dataFailed = r.status === 'failed' && r.data.rows === 0
  const failedGates = r.gates.filter((g) => !g.passed).length
  const gatesJudged = r.gates.length > 0
  return [
    {
      name: 'Data',
      state: dataFailed ? 'failed' : 'done',
      detail: dataFailed
        ? 'not read'
        : `${r.data.rows} rows · ${r.data.trainRows} train / ${r.data.holdoutRows} holdout`,
    },
    {
      name: 'Train',
      state: evaluated ? 'done' : r.status === 'failed' && !dataFailed ? 'failed' : 'skipped',
      detail: `${r.params.family}${r.metrics?.trainingMs === undefined ? '' : ` · ${duration(r.metrics.trainingMs)}`}`,
    },
    {
      name: 'Evaluate',
      state: evaluated ? 'done' : 'skipped',
      detail: evaluated ? `holdout ${pct(r.metrics!.accuracy)}` : 'not reached',
    },
    {
      name: 'Gates',
      state: !gatesJudged ? 'skipped' : failedGates ? 'failed' : 'done',
      detail: gatesJudged ? `${r.gates.length - failedGates} of ${r.gates.length} passed` : 'not judged',
    },
    {
      name: 'Publish',
      state: r.version === null ? 'skipped' : 'done',
      detail: r.version === null ? 'nothing published' : ['published ', versionLink(model, r.version)],
    },
    {
      name: 'Rollout',
      state: r.rollout === null ? 'skipped' : 'done',
      detail: r.rollout === null ? 'none started' : rolloutLink(model, r.rollout),
    },
  ]
}

const STEP_MARK: Record<StepState, string> = { done: '✓', failed: '✕', skipped: '–' }

function stepStrip(model: string, r: Run): HTMLElement {
  return h(
    'ol',
    { class: 'steps run-steps', 'data-testid': 'run-steps' },
    steps(model, r).map((s) =>
      h(
        'li',
        { class: `step-${s.state}`, 'data-state': s.state },
        h('strong', {}, `${STEP_MARK[s.state]} ${s.name}`),
        h('span', { class: 'sub' }, s.detail),
      ),
    ),
  )
}

function gatesTable(r: Run): HTMLElement {
  if (r.gates.length === 0) return note('No gate was judged: the run ended before its candidate could be evaluated.')
  return h(
    'table',
    { 'data-testid': 'run-gates', class: 'compact' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'Gate'),
        h('th', { class: 'num' }, 'Measured'),
        h('th', { class: 'num' }, 'Limit'),
        h('th', {}, 'Verdict'),
        h('th', {}, 'Evidence'),
      ),
    ),
    h(
      'tbody',
      {},
      r.gates.map((g) =>
        h(
          'tr',
          { 'data-gate': g.gate, 'data-passed': String(g.passed) },
          h('td', { class: 'mono' }, g.gate),
          h('td', { class: 'num' }, g.value === null ? 'not measured' : num(g.value, 4)),
          h('td', { class: 'num' }, num(g.limit, 4)),
          h('td', {}, h('span', { class: `status ${g.passed ? 'ok' : 'breach'}` }, g.passed ? '✓ pass' : '✕ fail')),
          h('td', {}, g.message),
        ),
      ),
    ),
  )
}

/** Candidate and champion side by side; a row per figure either of them has. */
function metricsTable(r: Run): HTMLElement {
  const c = r.metrics
  const ch = r.champion?.metrics ?? null
  const figure = (m: RunMetrics | null, f: (m: RunMetrics) => number | undefined, fmt: (x: number) => string) => {
    const v = m ? f(m) : undefined
    return v === undefined ? '—' : fmt(v)
  }
  const rows: [string, (m: RunMetrics) => number | undefined, (x: number) => string][] = [
    ['holdout accuracy', (m) => m.accuracy, (x) => pct(x, 2)],
    ['log-loss', (m) => m.logLoss, (x) => num(x, 4)],
    ['training time', (m) => m.trainingMs, duration],
    ['model size', (m) => m.bytes, (x) => `${num(x)} bytes`],
    ['latency p95 (onnxruntime-web)', (m) => m.latencyP95Ms, (x) => `${num(x, 2)} ms`],
  ]
  const champion = r.champion
    ? r.champion.kind === 'version'
      ? `champion v${r.champion.version}`
      : 'champion: majority class'
    : 'champion'
  return h(
    'table',
    { 'data-testid': 'run-metrics', class: 'compact' },
    h(
      'thead',
      {},
      h('tr', {}, h('th', {}, 'Metric'), h('th', { class: 'num' }, 'candidate'), h('th', { class: 'num' }, champion)),
    ),
    h(
      'tbody',
      {},
      rows
        .filter(([, f]) => (c && f(c) !== undefined) || (ch && f(ch) !== undefined))
        .map(([label, f, fmt]) =>
          h(
            'tr',
            {},
            h('td', {}, label),
            h('td', { class: 'num' }, figure(c, f, fmt)),
            h('td', { class: 'num' }, figure(ch, f, fmt)),
          ),
        ),
    ),
  )
}

/** Accuracy per group (class or slice value): n and the candidate's against the champion's. */
function groupTable(title: string, cand: Record<string, Group>, champ: Record<string, Group> | undefined): HTMLElement {
  return h(
    'table',
    { class: 'compact' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, title),
        ['n', 'candidate', 'champion'].map((c) => h('th', { class: 'num' }, c)),
      ),
    ),
    h(
      'tbody',
      {},
      Object.entries(cand).map(([k, g]) =>
        h(
          'tr',
          {},
          h('td', {}, k),
          h('td', { class: 'num' }, num(g.n)),
          h('td', { class: 'num' }, pct(g.accuracy)),
          h('td', { class: 'num' }, champ?.[k] ? pct(champ[k].accuracy) : '—'),
        ),
      ),
    ),
  )
}

function facts(rows: [string, Child][]): HTMLElement {
  return h(
    'dl',
    { class: 'grid2 facts' },
    rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  )
}

/** A run's page. */
export async function render(root: HTMLElement, me: Me, [model, id]: string[]): Promise<void> {
  const heading = (...extra: Child[]) =>
    h(
      'h1',
      {},
      h('a', { href: `#/models/${model}` }, model),
      ' · ',
      h('a', { href: `#/models/${model}/runs` }, 'runs'),
      ' · ',
      h('span', { class: 'mono' }, id),
      ' ',
      extra,
    )
  if (!can(me, 'registry:read')) return replace(root, heading(), note('Runs need a token with registry:read.', 'error'))
  const [r, detail] = await Promise.all([
    api<Run>(`/v1/models/${model}/runs/${id}`),
    api<ModelDetail>(`/v1/models/${model}`),
  ])
  const parent = r.version === null ? undefined : detail.versions.find((v) => v.version === r.version)?.parent
  const perSlice = Object.entries(r.metrics?.perSlice ?? {})
  replace(
    root,
    heading(runStatus(r)),
    r.error
      ? h('p', { class: 'note error run-error', role: 'alert', 'data-testid': 'run-error' }, `Error: ${r.error}`)
      : null,
    h('section', { class: 'card' }, h('h2', {}, 'Steps'), stepStrip(model, r)),
    h(
      'div',
      { class: 'run-layout' },
      h(
        'section',
        { class: 'card' },
        h('h2', {}, 'Run'),
        facts([
          ['trigger', triggerLink(model, r)],
          ['started', when(r.startedAt)],
          ['ended', `${when(r.finishedAt)} (${duration(r.finishedAt - r.startedAt)})`],
          ['recorded', `${when(r.createdAt)} by ${r.createdBy}`],
          ['version', r.version === null ? 'nothing published' : versionLink(model, r.version)],
          ['lineage parent', parent === undefined ? '—' : parent === null ? 'none' : versionLink(model, parent)],
          ['rollout', rolloutLink(model, r.rollout)],
          ['code commit', r.codeCommit ? h('span', { class: 'mono' }, r.codeCommit) : '—'],
        ]),
      ),
      h(
        'section',
        { class: 'card' },
        h('h2', {}, 'Parameters and data'),
        facts([
          ['family', r.params.family],
          ['seed', String(r.params.seed)],
          ['holdout share', pct(r.params.holdout)],
          [
            'hyper-parameters',
            Object.keys(r.params.hyper).length
              ? Object.entries(r.params.hyper).map(([k, v]) => h('span', { class: 'tag' }, `${k} = ${String(v)}`))
              : '—',
          ],
          ['data', r.data.name],
          ['SHA-256', h('span', { class: 'mono hash' }, r.data.sha256)],
          ['rows', `${num(r.data.rows)} (${num(r.data.trainRows)} train, ${num(r.data.holdoutRows)} holdout)`],
          ['label', h('span', { class: 'mono' }, r.data.label)],
          ['features', r.data.features.map((f) => h('span', { class: 'tag' }, f))],
        ]),
      ),
    ),
    h('section', { class: 'card' }, h('h2', {}, 'Gates'), gatesTable(r)),
    r.metrics || r.champion
      ? h(
          'section',
          { class: 'card' },
          h('h2', {}, 'Holdout metrics'),
          h(
            'div',
            { class: 'run-layout' },
            metricsTable(r),
            r.metrics && Object.keys(r.metrics.perClass).length
              ? groupTable('class', r.metrics.perClass, r.champion?.metrics.perClass)
              : null,
          ),
          perSlice.length
            ? [
                h('h3', {}, 'Per slice'),
                h(
                  'div',
                  { class: 'run-layout' },
                  perSlice.map(([col, groups]) => groupTable(col, groups, r.champion?.metrics.perSlice?.[col])),
                ),
              ]
            : null,
        )
      : null,
  )
}
