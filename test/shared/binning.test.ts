// Binning must agree to the bin on every runtime that counts: devices (Chromium), the edge
// (workerd) and the CLI (Node). Expected indexes come from numpy's searchsorted(side='right').
import { describe, expect, it } from 'vitest'
import { binIndexPadded, padEdges } from '../../core/profile/bin.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { binIndex, categoryIndex, categoryKey, categoryLookup, FeatureHistogram } from '../../core/profile/index.ts'
import vectors from '../vectors/binning.json'

type Encoded = number | string | boolean | null

/** JSON has no NaN or ±Infinity: the generator writes them as strings. */
function decode(v: Encoded): unknown {
  return v === 'NaN'
    ? Number.NaN
    : v === 'Infinity'
      ? Number.POSITIVE_INFINITY
      : v === '-Infinity'
        ? Number.NEGATIVE_INFINITY
        : v
}

const numeric = vectors.numeric as [string, number[], Encoded, number][]
const categorical = vectors.categorical as [string, string[], Encoded, number][]

describe('binIndex (shared vectors)', () => {
  it.each(numeric)('%s', (_name, edges, x, expected) => {
    expect(binIndex(Float64Array.from(edges), decode(x) as number)).toBe(expected)
    // Plain arrays bin identically (profiles arrive as JSON arrays).
    expect(binIndex(edges, decode(x) as number)).toBe(expected)
    // So does the branch-free search devices use on padded edges.
    expect(binIndexPadded(padEdges(edges), decode(x) as number)).toBe(expected)
  })

  it('binIndexPadded agrees with binIndex for seeded values on edges of every length', () => {
    const rand = seededRandom(99)
    for (let len = 0; len <= 40; len++) {
      const edges = Array.from({ length: len }, (_, i) => i * 1.5 - 10)
      const padded = padEdges(edges)
      expect(padded.length).toBeGreaterThan(len)
      for (let k = 0; k < 200; k++) {
        const x = rand() < 0.2 ? (edges[Math.floor(rand() * len)] ?? 0) : rand() * 80 - 30
        expect(binIndexPadded(padded, x)).toBe(binIndex(edges, x))
      }
    }
  })
})

describe('categoryIndex (shared vectors)', () => {
  it.each(categorical)('%s', (_name, categories, value, expected) => {
    const key = categoryKey(decode(value))
    expect(key === undefined ? -1 : categoryIndex(categoryLookup(categories), key)).toBe(expected)
  })
})

describe('FeatureHistogram on shared vectors', () => {
  it('counts each value in the bin binIndex names and NaN as missing', () => {
    const edges = [0, 1.5, 2, 10]
    const h = new FeatureHistogram({
      type: 'numeric',
      edges,
      counts: [0, 0, 0, 0, 0],
      n: 0,
      missing: 0,
      mean: 0,
      std: 0,
      min: 0,
      max: 0,
    })
    const expected = [0, 0, 0, 0, 0]
    let missing = 0
    for (const [, e, x, bin] of numeric) {
      if (e.join() !== edges.join()) continue
      h.add(decode(x))
      // ±Infinity has a bin but no mean: profiles count it as missing, and so do histograms.
      if (bin === -1 || !Number.isFinite(decode(x))) missing++
      else expected[bin]++
    }
    expect(h.snapshot()).toEqual({ counts: expected, missing })
  })
})
