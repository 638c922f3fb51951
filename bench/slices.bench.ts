/**
 * What slices add to compaction: per report, the lean slice aggregates of its four dimensions with a
 * value today (backend, platform, browser, memory; core/telemetry/slice-aggregate.ts) against the
 * cohort aggregate compaction already builds for it (`addReport`: histograms, device sets, sketches,
 * sampling). Row `slice-per-report`, target ≤ 1.5× the cohort aggregate. Seeded reports shaped like a
 * browser's: 1 to 40 inferences, three feature histograms and one output histogram, feedback.
 * Run: `node --import tsx bench/slices.bench.ts`.
 */
import type { Report } from '../core/formats/telemetry.ts'
import { DDSketch } from '../core/sketch/DDSketch.ts'
import { parseSketch } from '../core/sketch/parse.ts'
import { addReport, emptyAggregate } from '../core/telemetry/aggregate.ts'
import { addSliceReport, emptySliceAggregate } from '../core/telemetry/slice-aggregate.ts'
import { deviceSlices, sliceValueOf } from '../core/telemetry/slices.ts'
import { seededRandom } from '../scripts/lib/random.ts'
import { compare, rowOf } from './harness.ts'
import { record } from './results.ts'

const rand = seededRandom(21)
const REPORTS = 2_000
const hist = (bins: number, n: number) => {
  const counts = new Array<number>(bins).fill(0)
  for (let i = 0; i < n; i++) counts[Math.floor(rand() * bins)]++
  return { counts, missing: 0 }
}
const reports: Report[] = Array.from({ length: REPORTS }, (_, i) => {
  const n = 1 + Math.floor(rand() * 40)
  const latency = new DDSketch()
  for (let k = 0; k < n; k++) latency.add(0.2 + rand() * 5)
  const labeled = Math.floor(rand() * n)
  return {
    model: 'bench',
    version: 1,
    role: 'primary',
    window: { start: 0, end: 60_000 },
    backend: i % 3 === 0 ? 'webgpu' : 'wasm',
    fallbacks: {},
    counts: { inferences: n, errors: Math.floor(rand() * 2), cacheHits: 0, loads: 0 },
    loadMs: new DDSketch().toJSON(),
    latency: latency.toJSON(),
    features: { a: hist(10, n), b: hist(10, n), c: hist(4, n) },
    outputs: { label: hist(3, n) },
    ...(labeled > 0 ? { feedback: { labeled, correct: Math.floor(labeled * rand()) } } : {}),
  }
})
const devices = reports.map((_, i) => 1_000 + (i % 200))
const platforms = ['linux', 'windows', 'macos', 'android']
const slicesOf = devices.map((d) =>
  deviceSlices({ webgpu: false, platform: platforms[d % 4], browser: 'chromium', deviceMemory: 2 ** (d % 4) }),
)
const DIMENSIONS = ['backend', 'platform', 'browser', 'memory'] as const

function cohort(): number {
  const agg = emptyAggregate()
  for (let i = 0; i < REPORTS; i++) addReport(agg, reports[i], devices[i], 1)
  return agg.reports
}

function slices(): number {
  const aggs = new Map<string, ReturnType<typeof emptySliceAggregate>>()
  for (let i = 0; i < REPORTS; i++) {
    const latency = parseSketch(reports[i].latency) // once per report, as compaction does
    for (const dimension of DIMENSIONS) {
      const key = `${dimension}|${sliceValueOf(dimension, reports[i], slicesOf[i])}`
      let agg = aggs.get(key)
      if (!agg) aggs.set(key, (agg = emptySliceAggregate()))
      addSliceReport(agg, reports[i], devices[i], latency)
    }
  }
  return aggs.size
}

record(
  rowOf(
    compare({ name: 'slice-per-report', ops: REPORTS, candidate: slices, baseline: cohort, target: 1.5, rounds: 9 }),
    'the cohort aggregate compaction builds for the same reports (addReport)',
  ),
)
