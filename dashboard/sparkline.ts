import { h } from './dom.ts'

// Its own module so the models view draws sparklines without loading the chart library.

/** A tiny inline line (no axes) for a table cell. */
export function sparkline(values: number[], label: string): HTMLElement {
  const w = 120
  const hgt = 24
  const max = Math.max(1, ...values)
  const pts = values.map(
    (v, i) =>
      `${((i / Math.max(1, values.length - 1)) * w).toFixed(1)},${(hgt - 2 - (v / max) * (hgt - 4)).toFixed(1)}`,
  )
  const ns = 'http://www.w3.org/2000/svg'
  const svg = document.createElementNS(ns, 'svg')
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`)
  svg.setAttribute('width', String(w))
  svg.setAttribute('height', String(hgt))
  svg.setAttribute('role', 'img')
  svg.setAttribute('aria-label', label)
  svg.classList.add('spark')
  const line = document.createElementNS(ns, 'polyline')
  line.setAttribute('points', pts.join(' '))
  svg.append(line)
  const span = h('span', { class: 'spark-box', title: label })
  span.append(svg)
  return span
}
