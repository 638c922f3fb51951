/**
 * A tiny benchmark harness: every figure is a ratio against a baseline measured in the same process,
 * interleaved with the candidate, so machine speed, frequency scaling and noisy neighbours cancel out.
 * Absolute ns/op are printed for context only; targets are ratios.
 *
 * @example
 * record(rowOf(compare({ name: 'sketch-add', ops: N, target: 1, candidate: () => …, baseline: () => … })))
 */
import { type BenchRow, ratioRow } from './results.ts'

/** One candidate against its baseline. Each function does `ops` operations and returns a number that depends on the work. */
export interface Comparison {
  name: string
  /** Operations done by one call of `candidate` (and of `baseline`): the ns/op divisor. */
  ops: number
  candidate: () => number
  baseline: () => number
  /** The largest acceptable ratio candidate ÷ baseline. */
  target: number
  /** Untimed calls of each function first, so the JIT has settled (default 3). */
  warmup?: number
  /** Timed calls of each function, interleaved (default 15). */
  rounds?: number
}

/** What `compare` measured: medians in ns/op, and the median of the per-round ratios. */
export interface ComparisonResult {
  name: string
  candidateNs: number
  baselineNs: number
  ratio: number
  target: number
  pass: boolean
  /** Per-round ns/op of each side and their ratios, in round order. */
  candidates: number[]
  baselines: number[]
  ratios: number[]
}

// Results flow here so the optimizer cannot drop the work.
let sink = 0

/** The median of `xs` (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median of nothing')
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Nanoseconds per operation of one call of `run`. */
function timeOnce(run: () => number, ops: number): number {
  const start = performance.now()
  sink += run()
  return ((performance.now() - start) * 1e6) / ops
}

/**
 * Warms both functions up, then times them in alternating order (candidate first on even rounds,
 * baseline first on odd ones) and prints `name: candidate X ns/op, baseline Y ns/op, ratio R (target ≤ T)`.
 * The ratio is the median of the per-round ratios: each round pairs two runs made moments apart.
 */
export function compare(c: Comparison): ComparisonResult {
  const warmup = c.warmup ?? 3
  const rounds = c.rounds ?? 15
  for (let i = 0; i < warmup; i++) sink += c.candidate() + c.baseline()
  const cand: number[] = []
  const base: number[] = []
  const ratios: number[] = []
  for (let r = 0; r < rounds; r++) {
    let x: number
    let y: number
    if (r % 2 === 0) {
      x = timeOnce(c.candidate, c.ops)
      y = timeOnce(c.baseline, c.ops)
    } else {
      y = timeOnce(c.baseline, c.ops)
      x = timeOnce(c.candidate, c.ops)
    }
    cand.push(x)
    base.push(y)
    ratios.push(x / y)
  }
  const result: ComparisonResult = {
    name: c.name,
    candidateNs: median(cand),
    baselineNs: median(base),
    ratio: median(ratios),
    target: c.target,
    pass: median(ratios) <= c.target,
    candidates: cand,
    baselines: base,
    ratios,
  }
  console.log(
    `${c.name}: candidate ${fmt(result.candidateNs)} ns/op, baseline ${fmt(result.baselineNs)} ns/op, ratio ${result.ratio.toFixed(2)} (target ≤ ${c.target})`,
  )
  return result
}

/** The table row of a comparison (ns/op, median of the per-round ratios, min–max). */
export function rowOf(r: ComparisonResult, note?: string): BenchRow {
  if (!Number.isFinite(sink)) console.log('(sink)') // reads the sink once, so the work stays observable
  return ratioRow({
    name: r.name,
    unit: 'ns/op',
    values: r.candidates,
    baselines: r.baselines,
    ratios: r.ratios,
    target: { atMost: r.target },
    ...(note ? { note } : {}),
  })
}

function fmt(ns: number): string {
  return ns >= 100 ? ns.toFixed(0) : ns >= 10 ? ns.toFixed(1) : ns.toFixed(2)
}
