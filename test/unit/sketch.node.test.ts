// Heavier DDSketch checks, node only: 10^5-value datasets and a randomized comparison of the bin
// machinery (growth, in-place shifts, collapse, merge, JSON) against a naive model.
import { describe, expect, it } from 'vitest'
import { DDSketch, SKETCH_MAX_BINS, SKETCH_MIN_INDEXABLE } from '../../core/sketch/index.ts'
import { parseSketch } from '../../core/sketch/parse.ts'
import { seededNormal, seededRandom } from '../../scripts/lib/random.ts'

const ALPHA = 0.01
const GRID = [0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1]

function values(n: number, seed: number, f: (r: () => number, normal: () => number, i: number) => number): number[] {
  const rand = seededRandom(seed)
  const normal = seededNormal(seededRandom(seed + 1))
  return Array.from({ length: n }, (_, i) => f(rand, normal, i))
}

const DATASETS: Record<string, number[]> = {
  uniform: values(100_000, 1, (r) => r() * 1000),
  lognormal: values(100_000, 2, (_, z) => Math.exp(1 + 1.5 * z())),
  constant: values(100_000, 3, () => 42.5),
  zeros: values(100_000, 4, () => 0),
  'lognormal with 30% zeros': values(100_000, 5, (r, z) => (r() < 0.3 ? 0 : Math.exp(z()))),
  'pareto a=1.1': values(100_000, 6, (r) => 1 / Math.pow(1 - r(), 1 / 1.1)),
  increasing: values(100_000, 7, (_, __, i) => 0.5 * (i + 1)),
}

describe('DDSketch at n = 10^5', () => {
  it.each(Object.keys(DATASETS))('%s: every grid quantile within α of rank ⌊q·(n−1)⌋', (name) => {
    const data = DATASETS[name]!
    const sketch = new DDSketch()
    for (const v of data) sketch.add(v)
    const sorted = Float64Array.from(data).sort()
    for (const q of GRID) {
      const exact = sorted[Math.floor(q * (sorted.length - 1))]!
      const estimate = sketch.quantile(q)
      if (exact === 0) expect(estimate, `q=${q}`).toBe(0)
      else expect(Math.abs(estimate - exact), `q=${q}`).toBeLessThanOrEqual(ALPHA * exact * (1 + 1e-9))
    }
  })
})

/** The naive model of `sketch/1` bins: index every value, then fold everything below H − 2047 into it. */
function modelBins(all: number[]): { zero: number; offset: number; counts: number[] } {
  const invLogGamma = 1 / Math.log((1 + ALPHA) / (1 - ALPHA))
  const indexed = all.filter((v) => v >= SKETCH_MIN_INDEXABLE).map((v) => Math.ceil(Math.log(v) * invLogGamma))
  if (indexed.length === 0) return { zero: all.length, offset: 0, counts: [] }
  const top = Math.max(...indexed)
  const byBin = new Map<number, number>()
  for (const i of indexed) {
    const bin = Math.max(i, top - SKETCH_MAX_BINS + 1)
    byBin.set(bin, (byBin.get(bin) ?? 0) + 1)
  }
  const offset = Math.min(...byBin.keys())
  return {
    zero: all.length - indexed.length,
    offset,
    counts: Array.from({ length: top - offset + 1 }, (_, k) => byBin.get(offset + k) ?? 0),
  }
}

describe('DDSketch bins match a naive model under random adds, merges and round trips', () => {
  it.each(Array.from({ length: 40 }, (_, i) => i))('seed %i', (seed) => {
    const rand = seededRandom(seed)
    // Each part draws log-uniformly over its own window; windows may be narrow or span the float range.
    const parts = Array.from({ length: 2 + Math.floor(rand() * 6) }, () => {
      // Up to 1e300, so that sums of a few thousand values stay finite.
      const lowExp = -12 + rand() * 40
      const width = Math.min(300 - lowExp, rand() < 0.3 ? rand() * 300 : rand() * 8)
      const n = Math.floor(rand() * 3000)
      return Array.from({ length: n }, () => (rand() < 0.05 ? 0 : Math.pow(10, lowExp + rand() * width)))
    })
    const sketches = parts.map((part, i) => {
      const s = new DDSketch()
      for (const v of part) s.add(v)
      return i % 2 === 0 ? parseSketch(JSON.parse(JSON.stringify(s))) : s
    })
    // Merge in a random tree shape.
    while (sketches.length > 1) {
      const i = Math.floor(rand() * sketches.length)
      const [a] = sketches.splice(i, 1)
      const j = Math.floor(rand() * sketches.length)
      sketches[j] = rand() < 0.5 ? sketches[j]!.merge(a!) : a!.merge(sketches[j]!)
    }
    const all = parts.flat()
    const json = sketches[0]!.toJSON()
    expect({ zero: json.zero, offset: json.offset, counts: json.counts }).toStrictEqual(modelBins(all))
    expect(json.counts.length).toBeLessThanOrEqual(SKETCH_MAX_BINS)
    expect(json.n).toBe(all.length)
  })
})
