/**
 * @module
 * Our DDSketch (core/sketch) against Datadog's @datadog/sketches-js, the reference implementation, at the
 * same relative accuracy (1%), on the same seeded lognormal latencies (median 20 ms), interleaved in one
 * process:
 * - `sketch-add`: adding 1,000,000 values into a fresh sketch (what every inference costs the SDK);
 * - `sketch-merge`: merging 200 sketches of 5,000 values each into a fresh one, 20 times (what the edge does per read);
 * - `sketch-bytes`: the encoding of a sketch of 100,000 values, our `sketch/1` JSON against its protobuf.
 * Run with `npm run bench -- sketch`.
 */
import { DDSketch as DatadogSketch } from '@datadog/sketches-js'
import { DDSketch } from '../core/sketch/index.ts'
import { seededNormal, seededRandom } from '../scripts/lib/random.ts'
import { compare, rowOf } from './harness.ts'
import { record } from './results.ts'

const ALPHA = 0.01
const N = 1_000_000
const normal = seededNormal(seededRandom(1))
const values = Float64Array.from({ length: N }, () => Math.exp(3 + normal())) // lognormal latencies, ms

function oursAdd(): number {
  const s = new DDSketch({ alpha: ALPHA })
  for (let i = 0; i < N; i++) s.add(values[i]!)
  return s.count
}

function datadogAdd(): number {
  const s = new DatadogSketch({ relativeAccuracy: ALPHA })
  for (let i = 0; i < N; i++) s.accept(values[i]!)
  return s.count
}

const PARTS = 200
const PER_PART = 5_000
const ours: DDSketch[] = []
const theirs: DatadogSketch[] = []
for (let p = 0; p < PARTS; p++) {
  const a = new DDSketch({ alpha: ALPHA })
  const b = new DatadogSketch({ relativeAccuracy: ALPHA })
  for (let i = p * PER_PART; i < (p + 1) * PER_PART; i++) {
    a.add(values[i]!)
    b.accept(values[i]!)
  }
  ours.push(a)
  theirs.push(b)
}

const MERGE_REPEAT = 20

function oursMerge(): number {
  let n = 0
  for (let r = 0; r < MERGE_REPEAT; r++) {
    const s = new DDSketch({ alpha: ALPHA })
    for (const part of ours) s.merge(part)
    n += s.count
  }
  return n
}

function datadogMerge(): number {
  let n = 0
  for (let r = 0; r < MERGE_REPEAT; r++) {
    const s = new DatadogSketch({ relativeAccuracy: ALPHA })
    for (const part of theirs) s.merge(part)
    n += s.count
  }
  return n
}

const add = compare({ name: 'sketch-add', ops: N, candidate: oursAdd, baseline: datadogAdd, target: 1, rounds: 11 })
const merge = compare({
  name: 'sketch-merge',
  ops: PARTS * MERGE_REPEAT,
  candidate: oursMerge,
  baseline: datadogMerge,
  target: 1,
  rounds: 11,
})

// Encoded size: exact, so one measurement; the quantiles of both are printed to show they agree.
const BYTES_N = 100_000
const a = new DDSketch({ alpha: ALPHA })
const b = new DatadogSketch({ relativeAccuracy: ALPHA })
for (let i = 0; i < BYTES_N; i++) {
  a.add(values[i]!)
  b.accept(values[i]!)
}
const json = Buffer.byteLength(JSON.stringify(a))
const proto = b.toProto().length
for (const q of [0.5, 0.9, 0.99])
  console.log(`p${q * 100}: ours ${a.quantile(q).toFixed(3)} ms, datadog ${b.getValueAtQuantile(q).toFixed(3)} ms`)

record(
  rowOf(add, '@datadog/sketches-js accept() of the same 1e6 values, α = 1%'),
  rowOf(merge, '@datadog/sketches-js merge() of the same 200 × 5,000-value sketches'),
  {
    name: 'sketch-bytes',
    unit: 'bytes',
    value: json,
    baseline: proto,
    ratio: json / proto,
    target: '≤ 0.5',
    ok: json / proto <= 0.5,
    note: `1e5 values: sketch/1 JSON vs @datadog/sketches-js toProto()`,
  },
)
