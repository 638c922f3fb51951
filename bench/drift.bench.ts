/**
 * Local drift tracking per feature value (what the SDK's worker does for every input of every
 * inference) against a loop that only counts values in the same arrays, with no bin search — the
 * floor. Row `drift-per-value`, target ≤ 5× the counting loop. Real data: seattle-weather's numeric
 * columns binned on a 20-bin profile of 2012, plus its categorical label. Run: `npm run bench -- drift`.
 */
import { readFileSync } from 'node:fs'
import { buildProfile } from '../core/profile/build.ts'
import { DriftMonitor } from '../worker/drift-monitor.ts'
import { compare, rowOf } from './harness.ts'
import { record } from './results.ts'

const csv = readFileSync(new URL('../node_modules/vega-datasets/data/seattle-weather.csv', import.meta.url), 'utf8')
  .trim()
  .split('\n')
const header = csv[0]!.split(',')
const rows = csv.slice(1).map((line) => {
  const cells = line.split(',')
  return Object.fromEntries(header.map((h, i) => [h, h === 'date' || h === 'weather' ? cells[i] : Number(cells[i])]))
})
const profile = buildProfile(
  rows.filter((r) => String(r.date).startsWith('2012')),
  { ignore: ['date'] },
)
const names = Object.keys(profile.features)
const REPEAT = 200
const values: unknown[][] = names.map((n) => rows.map((r) => r[n]))
const N = REPEAT * rows.length * names.length
const now = Date.UTC(2026, 0, 1)

const monitor = new DriftMonitor(profile, { now })
const channels = names.map((n) => monitor.channel('features', n))

function track(): number {
  monitor.at(now)
  for (let rep = 0; rep < REPEAT; rep++)
    for (let f = 0; f < names.length; f++) {
      const c = channels[f]!
      const col = values[f]!
      for (let i = 0; i < col.length; i++) monitor.add(c, col[i])
    }
  return channels.length
}

/**
 * The baseline: the same loop and the same per-value call into a per-channel counter, which only
 * counts each value as present or missing — everything tracking does except finding the bin.
 */
class CountingMonitor {
  readonly #offsets: Uint32Array
  readonly #current: Uint32Array
  readonly #totals: Float64Array
  constructor(channels: number) {
    this.#offsets = Uint32Array.from({ length: channels }, (_, c) => c * 2)
    this.#current = new Uint32Array(channels * 2)
    this.#totals = new Float64Array(channels * 2)
  }
  add(c: number, value: unknown): void {
    if (c < 0) return
    const slot = this.#offsets[c]! + (value === null || value === undefined || value === '' ? 1 : 0)
    this.#current[slot]++
    this.#totals[slot]++
  }
}
const counter = new CountingMonitor(names.length)
function countOnly(): number {
  for (let rep = 0; rep < REPEAT; rep++)
    for (let f = 0; f < names.length; f++) {
      const col = values[f]!
      for (let i = 0; i < col.length; i++) counter.add(f, col[i])
    }
  return names.length
}

console.log(`${names.length} features (${names.join(', ')}) × ${rows.length} rows × ${REPEAT} per run = ${N} values`)
record(
  rowOf(
    compare({ name: 'drift-per-value', ops: N, candidate: track, baseline: countOnly, target: 5, rounds: 9 }),
    'a loop that only counts present/missing values, same arrays and calls',
  ),
)
