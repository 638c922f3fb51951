import type { Arm, Backend, Role } from '../../core/formats/common.ts'
import type { SketchJson } from '../../core/formats/sketch.ts'
import type { FeatureQuality } from '../../core/formats/quality.ts'
import type { CalibratedSums } from '../../core/formats/calibrated.ts'
import { isOnGrid } from '../../core/estimate/confidence.ts'
import type { BinnedCounts, Report } from '../../core/formats/telemetry.ts'
import { MAX_WINDOW_MS, WINDOW_MS } from '../../core/formats/telemetry-window.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import { emptyQuality, mergeQuality, QUALITY_PROBLEMS } from '../../core/telemetry/quality.ts'
import type { StatsDelta } from '../../worker/protocol.ts'
import { HEALTH_KINDS, type HealthKind } from '../../core/health-kinds.ts'

/** What the main thread knows about one loaded model version (the worker knows the rest). */
export interface ReportTarget {
  model: string
  version: number
  role: Role
  rollout?: { id: string; arm: Arm }
  backend: Backend
  /** Stable reason codes only (`BackendSkipReason`), never the human details. */
  fallbacks: Partial<Record<Backend, string>>
  /** The version's variant this device runs (docs/variants.md), when the version has variants. */
  variant?: string
}

/**
 * A timer firing a little late (or early) must not stretch a one-minute delta over two minutes:
 * bounds within this slack of a minute boundary snap to it.
 */
const SLACK_MS = 2_000

/** The UTC-minute-aligned window a worker delta is reported under (1 to 60 minutes, never empty). */
export function alignWindow(start: number, end: number): { start: number; end: number } {
  let s = Math.floor((start + SLACK_MS) / WINDOW_MS) * WINDOW_MS
  let e = Math.ceil((Math.max(end, start) - SLACK_MS) / WINDOW_MS) * WINDOW_MS
  if (e <= s) e = s + WINDOW_MS
  // A delta longer than an hour (a throttled background tab) is reported under its last hour.
  if (e - s > MAX_WINDOW_MS) s = e - MAX_WINDOW_MS
  return { start: s, end: e }
}

interface Pending {
  target: ReportTarget
  window: { start: number; end: number }
  inferences: number
  errors: number
  cacheHits: number
  loads: number
  loadMs: DDSketch
  latency: DDSketch
  features: Record<string, BinnedCounts>
  outputs: Record<string, BinnedCounts>
  /** Data-quality counts per profiled input feature. */
  quality: Record<string, FeatureQuality>
  /** Calibrated-confidence sums (count, Σp, Σp²). */
  calibrated: CalibratedSums
  /** Feedback on predictions counted in this report (labels themselves never reach the builder). */
  labeled: number
  correct: number
  /** A shadow's comparisons with the primary. */
  compared: number
  agreed: number
  absDiffSum: number
  /** Device health events (docs/device-health.md). */
  health: Record<HealthKind, number>
}

interface Tracked {
  target: ReportTarget
  /** Loads seen on the main thread since the last delta of this key, folded into its next report. */
  loads: number
  cacheHits: number
  loadMs: DDSketch
}

/**
 * Turns worker `StatsDelta`s plus main-thread facts into `telemetry/1` reports, one per
 * (model, version, role, rollout arm) and aligned window. Only counts, sketches, profile-bin
 * histograms, data-quality counts and calibrated-confidence sums are copied field by field: nothing else a delta might carry can reach the wire.
 * Feedback arrives as a verdict (correct or not), never as the label.
 *
 * @example
 * const b = new ReportBuilder()
 * b.track('weather@3#primary/1', { model: 'weather', version: 3, role: 'primary', backend: 'wasm', fallbacks: {} })
 * b.noteLoad('weather@3#primary/1', { ms: 42, cacheHit: true })
 * b.add(await api.collect('weather@3#primary/1'))
 * const reports = b.drain()
 */
export class ReportBuilder {
  private readonly tracked = new Map<string, Tracked>()
  private readonly pending = new Map<string, Pending>()

  /** Starts attributing a worker key's deltas to a model version. */
  track(key: string, target: ReportTarget): void {
    this.tracked.set(key, {
      target: { ...target, fallbacks: { ...target.fallbacks } },
      loads: 0,
      cacheHits: 0,
      loadMs: new DDSketch(),
    })
  }

  /** Stops attributing a key (after its last delta was added). */
  untrack(key: string): void {
    this.tracked.delete(key)
  }

  /** Keys being tracked (the models to collect from). */
  keys(): string[] {
    return [...this.tracked.keys()]
  }

  /** The target a tracked key reports under. */
  targetOf(key: string): ReportTarget | undefined {
    return this.tracked.get(key)?.target
  }

  /** Records a load on the main thread: its time and whether every file came from the cache. */
  noteLoad(key: string, load: { ms: number; cacheHit: boolean }): void {
    const t = this.tracked.get(key)
    if (!t) return
    t.loads++
    if (load.cacheHit) t.cacheHits++
    if (Number.isFinite(load.ms) && load.ms >= 0) t.loadMs.add(load.ms)
  }

  /** Adds one worker delta; deltas of the same target and window merge. Unknown keys are ignored. */
  add(delta: StatsDelta): void {
    const t = this.tracked.get(delta.key)
    if (!t) return
    const p = this.pendingFor(t.target, alignWindow(delta.window.start, delta.window.end))
    p.inferences += count(delta.inferences)
    p.errors += count(delta.errors)
    if (delta.shadow) {
      const compared = count(delta.shadow.compared)
      p.compared += compared
      p.agreed += Math.min(count(delta.shadow.agreed), compared)
      const sum = delta.shadow.absDiffSum
      if (typeof sum === 'number' && Number.isFinite(sum) && sum >= 0) p.absDiffSum += sum
    }
    p.latency.merge(DDSketch.fromValid(delta.latency as SketchJson))
    mergeBins(p.features, delta.features)
    mergeBins(p.outputs, delta.outputs)
    mergeQualityCounts(p.quality, delta.quality)
    mergeCalibratedSums(p.calibrated, delta.calibrated, count(delta.inferences))
    p.loads += t.loads
    p.cacheHits += t.cacheHits
    p.loadMs.merge(t.loadMs)
    t.loads = 0
    t.cacheHits = 0
    t.loadMs = new DDSketch()
  }

  /**
   * Counts feedback on a prediction made at `at` into its target's report of that UTC minute (the
   * window the prediction was counted in): one labeled, and one correct when it matched.
   */
  addFeedback(target: ReportTarget, at: number, correct: boolean): void {
    const start = Math.floor(at / WINDOW_MS) * WINDOW_MS
    const p = this.pendingFor(target, { start, end: start + WINDOW_MS })
    p.labeled++
    if (correct) p.correct++
  }

  /**
   * Records a load that failed on the main thread (a shadow that could not be downloaded, verified or
   * started): one load and one error in its target's report of the minute of `at`, so the fleet sees
   * it without the primary being touched.
   */
  addFailedLoad(target: ReportTarget, at: number, ms: number): void {
    const start = Math.floor(at / WINDOW_MS) * WINDOW_MS
    const p = this.pendingFor(target, { start, end: start + WINDOW_MS })
    p.loads++
    p.errors++
    if (Number.isFinite(ms) && ms >= 0) p.loadMs.add(ms)
  }

  /**
   * Counts one device health event (a lost WebGPU device, an out-of-memory load or run, a worker
   * crash, a load a dead page left) into its target's report of the minute of `at`.
   */
  addHealth(target: ReportTarget, kind: HealthKind, at: number): void {
    const start = Math.floor(at / WINDOW_MS) * WINDOW_MS
    this.pendingFor(target, { start, end: start + WINDOW_MS }).health[kind]++
  }

  private pendingFor(target: ReportTarget, window: { start: number; end: number }): Pending {
    const { model, version, role, rollout, backend, variant } = target
    // The backend too: a version that left a lost WebGPU device reports the rest of the window apart.
    const id = JSON.stringify([
      model,
      version,
      role,
      rollout?.id ?? null,
      rollout?.arm ?? null,
      backend,
      variant ?? null,
      window.start,
      window.end,
    ])
    let p = this.pending.get(id)
    if (!p) {
      p = {
        target,
        window,
        inferences: 0,
        errors: 0,
        cacheHits: 0,
        loads: 0,
        loadMs: new DDSketch(),
        latency: new DDSketch(),
        features: {},
        outputs: {},
        quality: {},
        calibrated: { count: 0, sum: 0, sumSq: 0 },
        labeled: 0,
        correct: 0,
        compared: 0,
        agreed: 0,
        absDiffSum: 0,
        health: { deviceLost: 0, oomLoad: 0, oomRun: 0, workerCrash: 0, loadAbandoned: 0 },
      }
      this.pending.set(id, p)
    }
    return p
  }

  /** How many reports are waiting. */
  get size(): number {
    return this.pending.size
  }

  /** Every pending report of a window ending by `until` (default: all), removed from the builder; reports without any activity are skipped. */
  drain(until = Infinity): Report[] {
    const out: Report[] = []
    for (const [id, p] of this.pending) {
      if (p.window.end > until) continue
      this.pending.delete(id)
      const healthy = HEALTH_KINDS.every((k) => p.health[k] === 0)
      if (p.inferences === 0 && p.errors === 0 && p.loads === 0 && p.labeled === 0 && healthy) continue
      const { model, version, role, rollout, backend, fallbacks, variant } = p.target
      out.push({
        model,
        version,
        role,
        ...(rollout ? { rollout: { id: rollout.id, arm: rollout.arm } } : {}),
        window: { ...p.window },
        backend,
        fallbacks: { ...fallbacks },
        ...(variant === undefined ? {} : { variant }),
        counts: { inferences: p.inferences, errors: p.errors, cacheHits: p.cacheHits, loads: p.loads },
        loadMs: p.loadMs.toJSON(),
        latency: p.latency.toJSON(),
        features: p.features,
        outputs: p.outputs,
        ...(Object.keys(p.quality).length > 0 ? { quality: p.quality } : {}),
        ...(p.calibrated.count > 0 ? { calibrated: { ...p.calibrated } } : {}),
        ...(role === 'shadow'
          ? {
              shadow: {
                compared: p.compared,
                agreed: p.agreed,
                meanAbsDiff: p.compared > 0 ? p.absDiffSum / p.compared : 0,
              },
            }
          : {}),
        ...(p.labeled > 0 ? { feedback: { labeled: p.labeled, correct: p.correct } } : {}),
        ...(healthy ? {} : { health: { ...p.health } }),
      })
    }
    return out.sort((a, b) => a.window.start - b.window.start)
  }
}

const count = (n: unknown): number => (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : 0)

/** Adds histograms bin by bin, copying only `counts` and `missing` (never anything else a delta holds). */
function mergeBins(
  into: Record<string, BinnedCounts>,
  from: Record<string, { counts: ArrayLike<number>; missing: number }> | undefined,
): void {
  for (const [name, h] of Object.entries(from ?? {})) {
    const counts = Array.from(h.counts, count)
    const have = into[name]
    if (!have) {
      into[name] = { counts, missing: count(h.missing) }
      continue
    }
    // Bins of one profile keep their length; a mismatch means a different profile, so keep the first.
    if (have.counts.length !== counts.length) continue
    for (let i = 0; i < counts.length; i++) have.counts[i] += counts[i]
    have.missing += count(h.missing)
  }
}

/**
 * Adds data-quality counts feature by feature, copying only the six counts; a problem count never
 * exceeds what is left of `rows`, so the sum stays within telemetry/1's bound whatever a delta holds.
 */
function mergeQualityCounts(
  into: Record<string, FeatureQuality>,
  from: Record<string, Partial<Record<keyof FeatureQuality, unknown>>> | undefined,
): void {
  for (const [name, q] of Object.entries(from ?? {})) {
    const clean = emptyQuality()
    clean.rows = count(q.rows)
    let left = clean.rows
    for (const problem of QUALITY_PROBLEMS) {
      clean[problem] = Math.min(count(q[problem]), left)
      left -= clean[problem]
    }
    into[name] = mergeQuality(into[name] ?? emptyQuality(), clean)
  }
}

/**
 * Adds a delta's calibrated-confidence sums, copying only the three numbers, and only when they keep
 * telemetry/1's relations (count ≤ the delta's inferences, 0 ≤ sumSq ≤ sum ≤ count, sums on the
 * 2^-20 grid); anything else is left out whole.
 */
function mergeCalibratedSums(
  into: CalibratedSums,
  from: Partial<Record<keyof CalibratedSums, unknown>> | undefined,
  inferences: number,
): void {
  if (from === undefined) return
  const n = count(from.count)
  const { sum, sumSq } = from
  if (typeof sum !== 'number' || typeof sumSq !== 'number') return
  if (!(n > 0 && n <= inferences && sum <= n && sumSq >= 0 && sumSq <= sum && isOnGrid(sum) && isOnGrid(sumSq))) return
  into.count += n
  into.sum += sum
  into.sumSq += sumSq
}
