/**
 * DDSketch.add (what every inference costs the SDK's latency histogram) against two baselines measured in
 * the same run: a Map keyed by bin index (the obvious sparse sketch, same log mapping) and the bin index
 * alone, `⌈ln(x) / ln γ⌉` (the floor: no sketch can skip the log). Run with `npm run bench -- sketch`.
 */
import { DDSketch } from '../core/sketch/index.ts'
import { seededNormal, seededRandom } from '../scripts/lib/random.ts'
import { compare, finish } from './harness.ts'

const N = 1_000_000
const normal = seededNormal(seededRandom(1))
const values = Float64Array.from({ length: N }, () => Math.exp(3 + normal())) // lognormal latencies, ms
const invLogGamma = 1 / Math.log(1.01 / 0.99)

function sketchAdd(): number {
  const s = new DDSketch()
  for (let i = 0; i < N; i++) s.add(values[i]!)
  return s.count
}

function mapOfBins(): number {
  const bins = new Map<number, number>()
  for (let i = 0; i < N; i++) {
    const k = Math.ceil(Math.log(values[i]!) * invLogGamma)
    bins.set(k, (bins.get(k) ?? 0) + 1)
  }
  return bins.size
}

function binIndexOnly(): number {
  let sum = 0
  for (let i = 0; i < N; i++) sum += Math.ceil(Math.log(values[i]!) * invLogGamma)
  return sum
}

console.log(`${N} seeded lognormal values (median 20 ms) per run`)
finish([
  compare({
    name: 'DDSketch.add vs Map-of-bins sketch',
    ops: N,
    candidate: sketchAdd,
    baseline: mapOfBins,
    target: 0.5,
  }),
  compare({ name: 'DDSketch.add vs bin index alone', ops: N, candidate: sketchAdd, baseline: binIndexOnly, target: 3 }),
])
