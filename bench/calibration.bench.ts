/**
 * Calibrated confidence summed on the device (what the SDK's worker does for every prediction of a
 * classifier whose profile has a calibration map): `CalibrationCounter.observe` over class outputs
 * against the drift monitor binning the same outputs (predicted class and top score), the work the
 * worker already does per prediction. Row `calibration-per-prediction`, target ≤ 1× output tracking.
 * Data: the demo weather profile and a 10-bin map, seeded softmax outputs over its five classes.
 * Run: `npm run bench -- calibration`.
 */
import { readFileSync } from 'node:fs'
import { fitCalibration } from '../core/estimate/calibration.ts'
import { Profile } from '../core/formats/profile.ts'
import { seededRandom } from '../scripts/lib/random.ts'
import { CalibrationCounter } from '../worker/calibration-counter.ts'
import { DriftMonitor } from '../worker/drift-monitor.ts'
import type { ModelOutput } from '../worker/protocol.ts'
import { compare, rowOf } from './harness.ts'
import { record } from './results.ts'

const profile = Profile.parse(
  JSON.parse(readFileSync(new URL('../demo/models/weather/profile.json', import.meta.url), 'utf8')),
)
const LABELS = ['drizzle', 'fog', 'rain', 'snow', 'sun']
const rand = seededRandom(21)
const outputs: ModelOutput[] = Array.from({ length: 2000 }, () => {
  const logits = LABELS.map(() => 3 * rand())
  const z = logits.reduce((a, l) => a + Math.exp(l), 0)
  const scores = Object.fromEntries(LABELS.map((l, i) => [l, Math.exp(logits[i]!) / z]))
  const label = LABELS.reduce((best, l) => (scores[l]! > scores[best]! ? l : best), LABELS[0]!)
  return { kind: 'classes', label, scores }
})
const calibration = fitCalibration(
  outputs.map((o) => ({ score: o.kind === 'classes' ? o.scores[o.label]! : 0, correct: rand() < 0.7 })),
  { label: 'weather' },
)

const REPEAT = 100
const N = REPEAT * outputs.length
const now = Date.UTC(2026, 0, 1)

const counter = new CalibrationCounter(calibration)
function observe(): number {
  for (let rep = 0; rep < REPEAT; rep++) counter.observe(outputs)
  return counter.collect().count
}

const monitor = new DriftMonitor(profile, { now })
const predicted = monitor.channel('outputs', 'weather')
const confidence = monitor.channel('outputs', 'confidence')
function track(): number {
  monitor.at(now)
  for (let rep = 0; rep < REPEAT; rep++)
    for (const out of outputs)
      if (out.kind === 'classes') {
        monitor.add(predicted, out.label)
        monitor.add(confidence, out.scores[out.label])
      }
  return outputs.length
}

console.log(`${outputs.length} predictions × ${REPEAT} per run = ${N} lookups, ${calibration.counts.length} bins`)
record(
  rowOf(
    compare({
      name: 'calibration-per-prediction',
      ops: N,
      candidate: observe,
      baseline: track,
      target: 1,
      rounds: 9,
    }),
    'the drift monitor binning the same outputs (TabularIo does both per prediction)',
  ),
)
