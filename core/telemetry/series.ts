import type { Calibration } from '../formats/calibration.ts'
import type { CalibratedSums } from '../formats/calibrated.ts'
import type { SeriesPoint } from '../formats/fleet.ts'
import { estimatedAccuracyOf } from '../estimate/estimated-accuracy.ts'
import type { SketchJson } from '../formats/sketch.ts'
import { DDSketch } from '../sketch/DDSketch.ts'
import { parseSketch } from '../sketch/parse.ts'
import type { Aggregate } from './aggregate.ts'
import type { Figures } from './figures.ts'
import { HLL_RELATIVE_ERROR } from './hyperloglog.ts'
import { countsByLowestRate, estimateTotals, minSampleRate, ratesAscending, type RateCounts } from './sampling.ts'
import { quantiles, ratio, DEFAULT_MIN_DEVICES } from './summarize.ts'

/**
 * One point of a time series as a shard sends it: the aggregate of a bucket without histograms and
 * with its distinct devices already counted. Points are small (a series of 1440 minutes stays far
 * below the RPC limits), but their device counts are numbers, not sets: points of the same bucket
 * from different shards add up exactly because shards hold disjoint devices (a device always routes
 * to the same shard while the shard count is unchanged; see docs/telemetry.md).
 */
export interface PointJson {
  start: number
  end: number
  reports: number
  devices: number
  devicesExact: boolean
  counts: Aggregate['counts']
  latency: SketchJson
  loadMs: SketchJson
  shadow: Aggregate['shadow']
  feedback: Aggregate['feedback']
  /** Calibrated-confidence sums; absent when none arrived. */
  calibrated?: CalibratedSums
  /**
   * Per sample rate below 1, what arrived under it, devices counted at their lowest rate: counts,
   * not sets, so they add up across shards like `devices`. Absent when nothing was sampled.
   */
  sampled?: Record<string, RateCounts>
}

/** The point of bucket [start, end) holding `agg`. */
export function toPoint(agg: Aggregate, start: number, end: number): PointJson {
  return {
    start,
    end,
    reports: agg.reports,
    devices: agg.devices.size,
    devicesExact: agg.devices.isExact,
    counts: { ...agg.counts },
    latency: agg.latency.toJSON(),
    loadMs: agg.loadMs.toJSON(),
    shadow: { ...agg.shadow },
    feedback: { ...agg.feedback },
    ...(agg.calibrated.count > 0 ? { calibrated: { ...agg.calibrated } } : {}),
    ...(Object.keys(agg.sampled).length > 0 ? { sampled: countsByLowestRate(agg.sampled) } : {}),
  }
}

/**
 * Adds points from disjoint device populations (shards) into one point of [start, end) (default: the
 * first point's bucket); throws a RangeError for a point outside that bucket.
 */
export function mergePoints(points: readonly PointJson[], bucket?: { start: number; end: number }): PointJson {
  if (points.length === 0) throw new RangeError('mergePoints needs at least one point')
  const { start, end } = bucket ?? points[0]
  const latency = new DDSketch()
  const loadMs = new DDSketch()
  const sampled: Record<string, RateCounts> = {}
  const calibrated = { count: 0, sum: 0, sumSq: 0 }
  const out: PointJson = {
    start,
    end,
    reports: 0,
    devices: 0,
    devicesExact: true,
    counts: { inferences: 0, errors: 0, cacheHits: 0, loads: 0 },
    latency: latency.toJSON(),
    loadMs: loadMs.toJSON(),
    shadow: { compared: 0, agreed: 0, absDiffSum: 0 },
    feedback: { labeled: 0, correct: 0 },
  }
  for (const p of points) {
    if (p.start < start || p.end > end)
      throw new RangeError(`cannot merge point [${p.start}, ${p.end}) into [${start}, ${end})`)
    out.reports += p.reports
    out.devices += p.devices
    out.devicesExact &&= p.devicesExact
    for (const k of ['inferences', 'errors', 'cacheHits', 'loads'] as const) out.counts[k] += p.counts[k]
    latency.merge(parseSketch(p.latency))
    loadMs.merge(parseSketch(p.loadMs))
    for (const k of ['compared', 'agreed', 'absDiffSum'] as const) out.shadow[k] += p.shadow[k]
    for (const k of ['labeled', 'correct'] as const) out.feedback[k] += p.feedback[k]
    for (const k of ['count', 'sum', 'sumSq'] as const) calibrated[k] += p.calibrated?.[k] ?? 0
    for (const [rate, c] of Object.entries(p.sampled ?? {})) {
      const have = (sampled[rate] ??= { reports: 0, inferences: 0, errors: 0, devices: 0 })
      for (const k of ['reports', 'inferences', 'errors', 'devices'] as const) have[k] += c[k]
    }
  }
  out.latency = latency.toJSON()
  out.loadMs = loadMs.toJSON()
  if (calibrated.count > 0) out.calibrated = calibrated
  if (Object.keys(sampled).length > 0)
    out.sampled = Object.fromEntries(ratesAscending(sampled).map((k) => [k, sampled[k]]))
  return out
}

/**
 * Merges points of several shards into one series, oldest first: points of the same bucket add up,
 * and a narrower point inside a wider one (a minute one shard has not rolled up yet, inside an hour
 * another shard has) is added into the wider point.
 */
export function combinePoints(points: readonly PointJson[]): PointJson[] {
  const byWidth = [...points].sort((a, b) => b.end - b.start - (a.end - a.start) || a.start - b.start)
  type Group = { start: number; end: number; members: PointJson[] }
  const exact = new Map<string, Group>()
  const groups: Group[] = []
  for (const p of byWidth) {
    const key = `${p.start}:${p.end}`
    // Only a strictly wider group can contain p; there are few (rolled-up hours).
    const home =
      exact.get(key) ?? groups.find((g) => g.end - g.start > p.end - p.start && g.start <= p.start && p.end <= g.end)
    if (home) home.members.push(p)
    else {
      const g = { start: p.start, end: p.end, members: [p] }
      exact.set(key, g)
      groups.push(g)
    }
  }
  return groups.map((g) => mergePoints(g.members, g)).sort((a, b) => a.start - b.start)
}

/** The figures of a point as it is (every device at full weight), for `summarizePoint`. */
export function figuresOfPoint(p: PointJson): Figures {
  const sampled = p.sampled ?? {}
  return {
    inferences: p.counts.inferences,
    errors: p.counts.errors,
    loads: p.counts.loads,
    cacheHits: p.counts.cacheHits,
    labeled: p.feedback.labeled,
    correct: p.feedback.correct,
    compared: p.shadow.compared,
    agreed: p.shadow.agreed,
    absDiffSum: p.shadow.absDiffSum,
    calibratedCount: p.calibrated?.count ?? 0,
    calibratedSum: p.calibrated?.sum ?? 0,
    calibratedSumSq: p.calibrated?.sumSq ?? 0,
    backends: {},
    latency: parseSketch(p.latency),
    loadMs: parseSketch(p.loadMs),
    estimated: estimateTotals(
      { devices: p.devices, reports: p.reports, inferences: p.counts.inferences, errors: p.counts.errors },
      sampled,
    ),
  }
}

/**
 * The public form of a point: its rates and quantiles, or suppressed below `minDevices` devices.
 * `figures`: the point's figures with per-device caps applied (default: as it is); `calibration`: the
 * version's calibration map, whose sampling variance widens `estimatedAccuracy`'s interval.
 */
export function summarizePoint(
  p: PointJson,
  minDevices = DEFAULT_MIN_DEVICES,
  figures?: Figures,
  calibration?: Calibration,
): SeriesPoint {
  if (p.devices < minDevices) return { start: p.start, end: p.end, suppressed: true }
  const f = figures ?? figuresOfPoint(p)
  return {
    start: p.start,
    end: p.end,
    suppressed: false,
    devices: p.devices,
    devicesRelativeError: p.devicesExact ? 0 : HLL_RELATIVE_ERROR,
    reports: p.reports,
    inferences: p.counts.inferences,
    errors: p.counts.errors,
    errorRate: ratio(f.errors, f.inferences),
    estimated: f.estimated,
    minSampleRate: minSampleRate(p.sampled ?? {}),
    latencyMs: f.latency.isEmpty ? null : quantiles(f.latency, [0.5, 0.95, 0.99], ['p50', 'p95', 'p99']),
    loadMs: f.loadMs.isEmpty ? null : quantiles(f.loadMs, [0.5, 0.95], ['p50', 'p95']),
    cacheHitRate: ratio(f.cacheHits, f.loads),
    shadowAgreement: ratio(f.agreed, f.compared),
    accuracy: ratio(f.correct, f.labeled),
    estimatedAccuracy: estimatedAccuracyOf(f, calibration),
  }
}
