import uPlot from 'uplot'
import { h } from './dom.ts'

/** A CSS custom property of the current theme. */
function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim()
}

/** Series colours that read on both themes (Okabe–Ito palette, colour-blind safe). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442']

/** One line of a time chart. */
export interface Line {
  label: string
  values: (number | null)[]
  /** Values are proportions shown as percent. */
  percent?: boolean
}

/**
 * A uPlot line chart over time, themed from the CSS variables, with a legend and labelled axes.
 * `times` are ms since epoch.
 */
export function timeChart(opts: {
  title: string
  times: number[]
  lines: Line[]
  unit?: string
  width?: number
  height?: number
  testid?: string
}): HTMLElement {
  const box = h('figure', { class: 'chart', 'data-testid': opts.testid }, h('figcaption', {}, opts.title))
  if (opts.times.length === 0) {
    box.append(h('p', { class: 'note' }, 'No points in this range.'))
    return box
  }
  const fg = cssVar('--fg-muted') || '#666'
  const grid = cssVar('--grid') || '#ddd'
  const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } }
  const fmt = (v: number | null, percent?: boolean) =>
    v == null ? '—' : percent ? `${(v * 100).toFixed(1)}%` : `${+v.toFixed(2)}${opts.unit ? ` ${opts.unit}` : ''}`
  const data: uPlot.AlignedData = [opts.times.map((t) => t / 1000), ...opts.lines.map((l) => l.values)]
  const plot = new uPlot(
    {
      width: opts.width ?? 560,
      height: opts.height ?? 200,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      // Counts, durations and rates all start at 0, so a flat line never looks like a swing.
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { ...axis },
        {
          ...axis,
          size: 60,
          values: (_u, ticks) =>
            ticks.map((t) => (opts.lines[0]?.percent ? `${+(t * 100).toFixed(1)}%` : `${+t.toFixed(2)}`)),
          label: opts.unit,
          labelSize: 14,
        },
      ],
      series: [
        {},
        ...opts.lines.map((l, i) => ({
          label: l.label,
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          spanGaps: false,
          points: { show: opts.times.length < 40 },
          value: (_u: uPlot, v: number | null) => fmt(v, l.percent),
        })),
      ],
    },
    data,
  )
  box.append(plot.root)
  return box
}

/** Horizontal bars of labelled shares (backend mix, output distribution): plain HTML, legible and accessible. */
export function shareBars(rows: { label: string; share: number; detail?: string }[], testid?: string): HTMLElement {
  return h(
    'div',
    { class: 'bars', 'data-testid': testid },
    rows.length === 0 ? h('p', { class: 'note' }, 'Nothing reported.') : null,
    rows.map((r, i) =>
      h(
        'div',
        { class: 'bar-row' },
        h('span', { class: 'bar-label' }, r.label),
        h(
          'span',
          { class: 'bar-track' },
          h('span', {
            class: 'bar-fill',
            style: `width:${(r.share * 100).toFixed(1)}%;background:${PALETTE[i % PALETTE.length]}`,
          }),
        ),
        h('span', { class: 'bar-value' }, `${(r.share * 100).toFixed(1)}%${r.detail ? ` · ${r.detail}` : ''}`),
      ),
    ),
  )
}
