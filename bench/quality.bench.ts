/**
 * Data quality counted on the device (what the SDK's worker does for every record it predicts on):
 * `QualityCounter.observe` over whole records against the drift monitor binning the same records'
 * features, the work the worker already does per record. Row `quality-per-record`, target ≤ 3× drift
 * tracking. Real data: seattle-weather's records against a profile of 2012 (numeric columns and the
 * categorical label), 4% of the values replaced by seeded problems (NaN, strings, out of range,
 * unknown categories, missing). Run: `npm run bench -- quality`.
 */
import { readFileSync } from 'node:fs'
import { buildProfile } from '../core/profile/build.ts'
import { seededRandom } from '../scripts/lib/random.ts'
import { DriftMonitor } from '../worker/drift-monitor.ts'
import { QualityCounter } from '../worker/quality-counter.ts'
import { compare, rowOf } from './harness.ts'
import { record } from './results.ts'

const csv = readFileSync(new URL('../node_modules/vega-datasets/data/seattle-weather.csv', import.meta.url), 'utf8')
  .trim()
  .split('\n')
const header = csv[0]!.split(',')
const rows = csv.slice(1).map((line) => {
  const cells = line.split(',')
  return Object.fromEntries(
    header
      .filter((h) => h !== 'date')
      .map((h) => [h, h === 'weather' ? cells[header.indexOf(h)] : Number(cells[header.indexOf(h)])]),
  ) as Record<string, unknown>
})
const profile = buildProfile(rows.slice(0, 366), {})
const names = Object.keys(profile.features)
const rand = seededRandom(12)
const BAD: unknown[] = [Number.NaN, '7', 1e6, 'hail', null, undefined]
for (const r of rows) for (const n of names) if (rand() < 0.04) r[n] = BAD[Math.floor(rand() * BAD.length)]

const REPEAT = 100
const N = REPEAT * rows.length
const now = Date.UTC(2026, 0, 1)

const counter = new QualityCounter(profile.features, [])
function observe(): number {
  for (let rep = 0; rep < REPEAT; rep++) counter.observe(rows)
  return counter.collect()[names[0]!]!.rows
}

const monitor = new DriftMonitor(profile, { now })
const channels = names.map((n) => ({ name: n, channel: monitor.channel('features', n) }))
function track(): number {
  monitor.at(now)
  for (let rep = 0; rep < REPEAT; rep++)
    for (const row of rows) for (const { name, channel } of channels) monitor.add(channel, row[name])
  return channels.length
}

console.log(
  `${names.length} features (${names.join(', ')}) × ${rows.length} records × ${REPEAT} per run = ${N} records`,
)
record(
  rowOf(
    compare({ name: 'quality-per-record', ops: N, candidate: observe, baseline: track, target: 3, rounds: 9 }),
    'the drift monitor binning the same records (TabularIo does both per record)',
  ),
)
