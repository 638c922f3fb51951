import type { Backend } from '../formats/common.ts'
import type { SketchJson } from '../formats/sketch.ts'
import { DDSketch } from '../sketch/DDSketch.ts'
import { parseSketch } from '../sketch/parse.ts'
import { estimatesOf, type Aggregate } from './aggregate.ts'
import type { Totals } from './sampling.ts'

/**
 * What a cohort's statistics are computed from, with each device weighed as its cap allows
 * (core/telemetry/device-caps.ts): the sums behind the rates, the latency and load-time sketches, and
 * the Horvitz–Thompson estimates. Floats: a capped device counts a share of its values. Without any
 * capped device, `figuresOf(aggregate)` is exactly what the aggregate holds.
 */
export interface Figures {
  inferences: number
  errors: number
  loads: number
  cacheHits: number
  labeled: number
  correct: number
  compared: number
  agreed: number
  absDiffSum: number
  /** Calibrated-confidence sums (count, Σp, Σp²) behind `estimatedAccuracy`. */
  calibratedCount: number
  calibratedSum: number
  calibratedSumSq: number
  backends: Partial<Record<Backend, number>>
  latency: DDSketch
  loadMs: DDSketch
  estimated: Totals | null
}

/** `Figures` as sent over RPC. */
export type FiguresJson = Omit<Figures, 'latency' | 'loadMs'> & { latency: SketchJson; loadMs: SketchJson }

const SUMS = [
  'inferences',
  'errors',
  'loads',
  'cacheHits',
  'labeled',
  'correct',
  'compared',
  'agreed',
  'absDiffSum',
  'calibratedCount',
  'calibratedSum',
  'calibratedSumSq',
] as const
const TOTALS = ['devices', 'reports', 'inferences', 'errors'] as const

/** The figures of an aggregate as it is, every device at full weight (sketches copied). */
export function figuresOf(agg: Aggregate): Figures {
  return {
    inferences: agg.counts.inferences,
    errors: agg.counts.errors,
    loads: agg.counts.loads,
    cacheHits: agg.counts.cacheHits,
    labeled: agg.feedback.labeled,
    correct: agg.feedback.correct,
    compared: agg.shadow.compared,
    agreed: agg.shadow.agreed,
    absDiffSum: agg.shadow.absDiffSum,
    calibratedCount: agg.calibrated.count,
    calibratedSum: agg.calibrated.sum,
    calibratedSumSq: agg.calibrated.sumSq,
    backends: { ...agg.backends },
    latency: new DDSketch({ alpha: agg.latency.alpha }).merge(agg.latency),
    loadMs: new DDSketch({ alpha: agg.loadMs.alpha }).merge(agg.loadMs),
    estimated: estimatesOf(agg),
  }
}

/** Figures of nothing: the identity of `addFigures`. */
export function noFigures(): Figures {
  return {
    inferences: 0,
    errors: 0,
    loads: 0,
    cacheHits: 0,
    labeled: 0,
    correct: 0,
    compared: 0,
    agreed: 0,
    absDiffSum: 0,
    calibratedCount: 0,
    calibratedSum: 0,
    calibratedSumSq: 0,
    backends: {},
    latency: new DDSketch(),
    loadMs: new DDSketch(),
    estimated: null,
  }
}

/**
 * What to take away from a cohort's figures so that one device's aggregate `device` counts only
 * `keep` of itself (and `keepEstimate` of its estimates): (1 − keep) of its sums and backends, the
 * `excess` of its sketches, (1 − keepEstimate) of its estimated totals (its received totals when it
 * was not sampled).
 */
export function excessOf(device: Aggregate, keep: number, keepEstimate: number): Figures {
  const drop = 1 - keep
  const own = figuresOf(device)
  const out = noFigures()
  for (const k of SUMS) out[k] = own[k] * drop
  for (const [b, n] of Object.entries(own.backends) as [Backend, number][]) out.backends[b] = n * drop
  out.latency = device.latency.excess(keep)
  out.loadMs = device.loadMs.excess(keep)
  const received = {
    devices: 1,
    reports: device.reports,
    inferences: device.counts.inferences,
    errors: device.counts.errors,
  }
  const estimated = own.estimated ?? received
  const dropEstimate = 1 - keepEstimate
  out.estimated = {
    devices: estimated.devices * dropEstimate,
    reports: estimated.reports * dropEstimate,
    inferences: estimated.inferences * dropEstimate,
    errors: estimated.errors * dropEstimate,
  }
  return out
}

/** Adds `source` into `target` (sums, backends, sketches merged, estimates added) and returns `target`. */
export function addFigures(target: Figures, source: Figures): Figures {
  for (const k of SUMS) target[k] += source[k]
  for (const [b, n] of Object.entries(source.backends) as [Backend, number][])
    target.backends[b] = (target.backends[b] ?? 0) + n
  target.latency.merge(source.latency)
  target.loadMs.merge(source.loadMs)
  if (source.estimated !== null) {
    const have = target.estimated ?? { devices: 0, reports: 0, inferences: 0, errors: 0 }
    for (const k of TOTALS) have[k] += source.estimated[k]
    target.estimated = have
  }
  return target
}

/**
 * Takes `excess` out of `target` and returns `target`: sums never below 0, sketches by `subtract`,
 * estimates only where `target` has some (a cohort that was not sampled has none to cap).
 */
export function subtractFigures(target: Figures, excess: Figures): Figures {
  for (const k of SUMS) target[k] = Math.max(0, target[k] - excess[k])
  for (const [b, n] of Object.entries(excess.backends) as [Backend, number][])
    target.backends[b] = Math.max(0, (target.backends[b] ?? 0) - n)
  target.latency.subtract(excess.latency)
  target.loadMs.subtract(excess.loadMs)
  if (target.estimated !== null && excess.estimated !== null)
    for (const k of TOTALS) target.estimated[k] = Math.max(0, target.estimated[k] - excess.estimated[k])
  return target
}

/** The RPC form of figures. */
export function encodeFigures(f: Figures): FiguresJson {
  return { ...f, backends: { ...f.backends }, latency: f.latency.toJSON(), loadMs: f.loadMs.toJSON() }
}

/** Figures from `encodeFigures`; throws `validation_failed` on a malformed sketch. */
export function decodeFigures(json: FiguresJson): Figures {
  return {
    ...json,
    // Figures from a shard that predates calibrated sums carry none.
    calibratedCount: json.calibratedCount ?? 0,
    calibratedSum: json.calibratedSum ?? 0,
    calibratedSumSq: json.calibratedSumSq ?? 0,
    backends: { ...json.backends },
    latency: parseSketch(json.latency),
    loadMs: parseSketch(json.loadMs),
    estimated: json.estimated === null ? null : { ...json.estimated },
  }
}
