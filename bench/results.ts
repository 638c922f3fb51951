/**
 * @module
 * The rows every bench reports: one per name of the table (`sketch-add`, `assign-rps`, …), with
 * the figure, its baseline measured in the same run, their ratio, the target and the verdict.
 * `scripts/bench.mjs` collects them from every bench it runs into one table and `bench/results.json`.
 * A bench started directly (`node --import tsx bench/x.bench.ts`) prints its rows instead.
 */
import { appendFileSync } from 'node:fs'

/** One figure of the table. `baseline`, `ratio` and `ok` are null where the issue names none (documented figures). */
export interface BenchRow {
  name: string
  /** What `value` and `baseline` count: `ns/op`, `bytes`, `req/s`, `ms`, `µs`, `USD`. */
  unit: string
  value: number
  baseline: number | null
  /** value ÷ baseline, or the median of per-round ratios when rounds were interleaved. */
  ratio: number | null
  /** The target as the issue states it, e.g. `≤ 1.03`, `≥ 0.8`, `≤ 12 KB and below all three`. */
  target: string
  ok: boolean | null
  /** Smallest and largest per-round ratio (or value, when there is no baseline); absent for exact figures. */
  min?: number
  max?: number
  /** Rounds behind the median. */
  rounds?: number
  /** What else a reader needs: the baseline's name, what limits the figure. */
  note?: string
}

/** Records rows for `npm run bench` (BENCH_ROWS names the file it reads), or prints them when run alone. */
export function record(...rows: BenchRow[]): void {
  const file = process.env.BENCH_ROWS
  for (const r of rows) {
    if (file) appendFileSync(file, `${JSON.stringify(r)}\n`)
    else console.log(JSON.stringify(r))
  }
  if (rows.some((r) => r.ok === false)) process.exitCode = 1
}

/** Median, min and max of per-round ratios (or values). */
export function spread(xs: readonly number[]): { median: number; min: number; max: number; rounds: number } {
  if (xs.length === 0) throw new RangeError('spread of nothing')
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return {
    median: s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2,
    min: s[0]!,
    max: s[s.length - 1]!,
    rounds: s.length,
  }
}

/** A ratio row from interleaved rounds: median ratio judged against `≤ max` or `≥ min`. */
export function ratioRow(r: {
  name: string
  unit: string
  values: readonly number[]
  baselines: readonly number[]
  ratios?: readonly number[]
  target: { atMost: number } | { atLeast: number }
  note?: string
}): BenchRow {
  const ratios = r.ratios ?? r.values.map((v, i) => v / r.baselines[i]!)
  const s = spread(ratios)
  const ok = 'atMost' in r.target ? s.median <= r.target.atMost : s.median >= r.target.atLeast
  return {
    name: r.name,
    unit: r.unit,
    value: spread(r.values).median,
    baseline: spread(r.baselines).median,
    ratio: s.median,
    target: 'atMost' in r.target ? `≤ ${r.target.atMost}` : `≥ ${r.target.atLeast}`,
    ok,
    min: s.min,
    max: s.max,
    rounds: s.rounds,
    ...(r.note ? { note: r.note } : {}),
  }
}
