/**
 * @module
 * Pieces the runs list and a run's page share: a run's status badge, its gates as pass/fail chips with
 * the measured value against the limit, its trigger, and links to the version and rollout it produced.
 */
import type { GateResult, Run } from '../../core/formats/run.ts'
import { h, num } from '../dom.ts'

/** The status badge of a run: completed (green), rejected or failed (red). */
export function runStatus(run: Pick<Run, 'status'>): HTMLElement {
  return h('span', { class: `status ${run.status}`, 'data-status': run.status }, run.status)
}

/** One gate as a chip: ✓ or ✕, its name, the measured value against its limit; the message on hover. */
export function gateChip(g: GateResult): HTMLElement {
  return h(
    'span',
    { class: `gate ${g.passed ? 'pass' : 'fail'}`, title: g.message, 'data-gate': g.gate },
    h('span', { 'aria-hidden': 'true' }, g.passed ? '✓ ' : '✕ '),
    h('span', { class: 'sr-only' }, g.passed ? 'passed: ' : 'failed: '),
    g.gate,
    ' ',
    h('span', { class: 'mono' }, `${num(g.value)} vs ${num(g.limit)}`),
  )
}

/**
 * What started a run: `manual`, or the `retrain.requested` event's id linking to the model's retrain
 * events (`short`: the id's ends only, the whole id on hover, for the narrow table column).
 */
export function triggerLink(model: string, run: Pick<Run, 'trigger'>, short = false): HTMLElement {
  if (run.trigger === 'manual') return h('span', { class: 'tag' }, 'manual')
  const id = run.trigger
  return h(
    'a',
    {
      class: 'mono',
      href: `#/events?model=${model}&type=retrain.*`,
      title: `retrain.requested ${id}`,
      'data-trigger': id,
    },
    short ? `${id.slice(0, 8)}…${id.slice(-6)}` : id,
  )
}

/** The version a run published (a link to the model page, with that version marked), or a dash. */
export function versionLink(model: string, version: number | null): HTMLElement | string {
  return version === null ? '—' : h('a', { href: `#/models/${model}?version=${version}` }, `v${version}`)
}

/** The rollout a run started (a link to that rollout's page), or a dash. */
export function rolloutLink(model: string, rollout: string | null): HTMLElement | string {
  return rollout === null
    ? '—'
    : h(
        'a',
        { class: 'mono', href: `#/models/${model}/rollout?id=${encodeURIComponent(rollout)}`, title: rollout },
        rollout,
      )
}

/** Wall time of a run, e.g. "4.2 s" or "3 min 05 s". */
export function duration(ms: number): string {
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)} s`
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
}
