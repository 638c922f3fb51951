/**
 * @module
 * The data-quality panel of a fleet cohort: per input feature, the values counted on devices as
 * missing, not finite, of the wrong type, out of range or an unknown category, and the share of rows
 * with a problem; the worst feature is marked. Only counts ever leave a device (docs/telemetry.md).
 */
import type { CohortMetrics } from '../../core/formats/fleet.ts'
import { h, num, pct } from '../dom.ts'

const PROBLEMS = [
  ['missing', 'missing'],
  ['nonFinite', 'non-finite'],
  ['wrongType', 'wrong type'],
  ['outOfRange', 'out of range'],
  ['unknownCategory', 'unknown category'],
] as const

/** The panel, or its empty state when no device has reported data-quality counts for this cohort. */
export function qualityPanel(quality: CohortMetrics['quality'], testid?: string): HTMLElement {
  const box = h(
    'figure',
    { class: 'chart quality', 'data-testid': testid },
    h('figcaption', {}, 'Data quality per input feature'),
  )
  const features = Object.entries(quality?.features ?? {})
  if (!quality || quality.worst === null || features.length === 0) {
    box.append(
      h(
        'p',
        { class: 'note', 'data-testid': testid ? `${testid}-empty` : undefined },
        'No data-quality counts yet: devices count missing, non-finite, wrong-type, out-of-range and unknown-category inputs per feature and report them with their telemetry windows.',
      ),
    )
    return box
  }
  const worst = quality.worst
  box.append(
    h(
      'p',
      { class: 'sub' },
      worst.rate > 0
        ? [
            'Worst feature: ',
            h('strong', { class: 'worst-name' }, worst.feature),
            ` · ${pct(worst.rate, 2)} of its rows had a problem`,
          ]
        : 'No problem found in any feature.',
    ),
    h(
      'table',
      { class: 'compact quality-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'Feature'),
          h('th', { class: 'num' }, 'rows'),
          PROBLEMS.map(([, label]) => h('th', { class: 'num' }, label)),
          h('th', {}, 'rate (rows with a problem)'),
        ),
      ),
      h(
        'tbody',
        {},
        features.map(([name, q]) => {
          const isWorst = worst.rate > 0 && name === worst.feature
          return h(
            'tr',
            {
              class: isWorst ? 'worst' : '',
              'data-testid': testid ? `quality-row-${name}` : undefined,
              'data-worst': String(isWorst),
            },
            h(
              'th',
              { scope: 'row', class: 'mono' },
              name,
              isWorst ? h('span', { class: 'tag worst-tag' }, 'worst') : null,
            ),
            h('td', { class: 'num' }, num(q.rows)),
            PROBLEMS.map(([key]) =>
              h('td', { class: `num${q[key] === 0 ? ' zero' : ''}`, 'data-problem': key }, num(q[key])),
            ),
            h(
              'td',
              {},
              h(
                'div',
                { class: 'rate-cell' },
                h(
                  'span',
                  { class: 'bar-track' },
                  h('span', { class: 'bar-fill quality-fill', style: `width:${(q.rate * 100).toFixed(1)}%` }),
                ),
                h('span', { class: 'num', 'data-rate': String(q.rate) }, pct(q.rate, 2)),
              ),
            ),
          )
        }),
      ),
    ),
  )
  return box
}
