import type { Batch, Report } from '../../core/formats/telemetry.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import { makeBatch, makeReport } from './telemetry-fixtures.ts'

/**
 * A seeded generator of absurd telemetry batches that still have telemetry/1's shape (every field of
 * the right type: non-negative integers, sketches with the sketch/1 keys, known backends and roles),
 * so they pass JSON parsing and reach the bounds: counts up to 2^53 − 1, errors far beyond
 * inferences, sketches with extreme values, sums and offsets, hour-long windows, sample rates down to
 * 5e-324, histograms with huge bins, shadow differences of 1e300. Some land within the bounds (a
 * device claiming the most it may); most do not.
 */

const MINUTE = 60_000
const HUGE = [0, 1, 20, 600, 1_000_000, 1_000_001, 2 ** 31, 1e12, 5e15, Number.MAX_SAFE_INTEGER]
const VALUES = [0, 1e-10, 0.3, 4, 60_000, 6e8, 1e9, 1e300]
const RATES = [1, 1, 0.5, 0.001, 0.0009, 1e-300, 5e-324]

/** Options of the generator. */
export interface AbsurdOptions {
  model: string
  /** Versions a report may name (some of them not published). */
  versions: number[]
  /** Rollout ids a report may carry (besides none). */
  rollouts: string[]
  /** The latest minute a window may start in; windows start up to an hour before it. */
  lastMinute: number
}

function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!
}

/** A sketch/1-shaped object: a real sketch of extreme values, or one whose fields disagree. */
function absurdSketch(rand: () => number, n: number): Report['latency'] {
  const value = pick(rand, VALUES)
  const count = Math.max(1, Math.min(n, Number.MAX_SAFE_INTEGER))
  const real = new DDSketch().add(value, value * count < Infinity ? count : 1).toJSON()
  switch (Math.floor(rand() * 5)) {
    case 0:
      return real
    case 1:
      return { ...real, sum: 1e308 }
    case 2:
      return { ...real, offset: real.counts.length > 0 ? 1e15 : 0 }
    case 3:
      return real.n > 0 && real.zero === 0 ? { ...real, min: 1e300, max: 1e300 } : real
    default:
      return new DDSketch().toJSON()
  }
}

/** One absurd report, derived from a valid one by several extreme changes. */
export function absurdReport(rand: () => number, o: AbsurdOptions): Report {
  const minutes = pick(rand, [1, 1, 2, 60])
  const start = o.lastMinute - Math.floor(rand() * 60) * MINUTE
  const base = makeReport(rand, { model: o.model, start, version: pick(rand, o.versions) })
  const r: Report = { ...base, window: { start, end: start + minutes * MINUTE } }
  if (rand() < 0.5) r.role = 'shadow'
  if (rand() < 0.5) r.rollout = { id: pick(rand, o.rollouts), arm: rand() < 0.5 ? 'baseline' : 'candidate' }
  const inferences = pick(rand, HUGE)
  const loads = pick(rand, [0, 1, 600, 36_000, 1e12])
  const labeled = pick(rand, HUGE)
  for (let changes = 1 + Math.floor(rand() * 4); changes > 0; changes--) {
    switch (Math.floor(rand() * 8)) {
      case 0:
        r.counts = { inferences, errors: pick(rand, HUGE), cacheHits: pick(rand, [0, loads, loads + 1]), loads }
        break
      case 1:
        r.latency = absurdSketch(rand, pick(rand, [inferences, 1, 5e15]))
        break
      case 2:
        r.loadMs = absurdSketch(rand, pick(rand, [loads, 1]))
        break
      case 3:
        r.feedback = { labeled, correct: Math.floor(labeled * rand()) }
        break
      case 4:
        r.shadow = { compared: pick(rand, HUGE), agreed: 0, meanAbsDiff: pick(rand, [0, 1, 1e12, 1e300]) }
        break
      case 5:
        r.features = { ...r.features, temp_max: { counts: [pick(rand, HUGE), 0, pick(rand, HUGE)], missing: 0 } }
        break
      case 6:
        r.counts = { ...r.counts, inferences }
        r.latency = new DDSketch().add(pick(rand, VALUES.slice(0, 6)), Math.max(1, Math.min(inferences, 1e6))).toJSON()
        break
      default:
        r.fallbacks = { webgpu: pick(rand, ['unavailable', 'x'.repeat(64), 'init_failed']) }
    }
  }
  // Now and then the most a device may claim, all of it bad: a million inferences a minute at 60 s, every label wrong.
  if (rand() < 0.2) {
    const most = 1_000_000 * minutes
    r.counts = { inferences: most, errors: most, cacheHits: 0, loads: 0 }
    r.latency = new DDSketch().add(60_000, most).toJSON()
    r.loadMs = new DDSketch().toJSON()
    r.feedback = { labeled: most, correct: 0 }
    r.shadow = undefined
    r.features = base.features
    r.fallbacks = {}
  }
  return r
}

/** One absurd batch of 1–3 reports from `device`. */
export function absurdBatch(rand: () => number, device: string, o: AbsurdOptions): Batch {
  const reports = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => absurdReport(rand, o))
  return { ...makeBatch(device, reports), sampleRate: pick(rand, RATES) }
}
