import { describe, expect, it } from 'vitest'
import { isEdgefleetError } from '../../core/errors.ts'
import type { SketchJson } from '../../core/sketch/index.ts'
import { DDSketch, SKETCH_MAX_BINS, SKETCH_MIN_INDEXABLE } from '../../core/sketch/index.ts'
import { parseSketch } from '../../core/sketch/parse.ts'
import { seededNormal, seededRandom } from '../../scripts/lib/random.ts'
import golden from '../vectors/sketch-golden.json'

const ALPHA = 0.01
const GAMMA = (1 + ALPHA) / (1 - ALPHA)
/** ln/pow rounding may move a bound by ~1e-13 relative; this slack is far below α. */
const SLACK = 1e-9
const GRID = [0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1]
const SIZES = [1, 2, 10, 100, 1_000, 10_000]

/** Seeded datasets: name → (size, seed) → values. */
const DATASETS: Record<string, (n: number, seed: number) => number[]> = {
  uniform: (n, seed) => draw(n, seed, (r) => r() * 1000),
  lognormal: (n, seed) => {
    const normal = seededNormal(seededRandom(seed))
    return Array.from({ length: n }, () => Math.exp(1 + 1.5 * normal()))
  },
  constant: (n) => Array.from({ length: n }, () => 42.5),
  zeros: (n) => Array.from({ length: n }, () => 0),
  'lognormal with 30% zeros': (n, seed) => {
    const rand = seededRandom(seed)
    const normal = seededNormal(seededRandom(seed + 1))
    return Array.from({ length: n }, () => (rand() < 0.3 ? 0 : Math.exp(normal())))
  },
  'pareto a=1.1': (n, seed) => draw(n, seed, (r) => 1 / Math.pow(1 - r(), 1 / 1.1)),
  increasing: (n) => Array.from({ length: n }, (_, i) => 0.5 * (i + 1)),
}

function draw(n: number, seed: number, f: (r: () => number) => number): number[] {
  const rand = seededRandom(seed)
  return Array.from({ length: n }, () => f(rand))
}

function sketchOf(values: number[], alpha = ALPHA): DDSketch {
  const s = new DDSketch({ alpha })
  for (const v of values) s.add(v)
  return s
}

/** Every grid quantile against the exact value of rank ⌊q·(n−1)⌋; returns the violations. */
function quantileErrors(sketch: DDSketch, values: number[], alpha = ALPHA, grid = GRID): string[] {
  const sorted = Float64Array.from(values).sort()
  const errors: string[] = []
  for (const q of grid) {
    const exact = sorted[Math.floor(q * (sorted.length - 1))]!
    const estimate = sketch.quantile(q)
    const ok =
      exact < SKETCH_MIN_INDEXABLE
        ? exact === 0
          ? estimate === 0
          : Math.abs(estimate - exact) < SKETCH_MIN_INDEXABLE
        : Math.abs(estimate - exact) <= alpha * exact * (1 + SLACK)
    if (!ok) errors.push(`q=${q}: estimate ${estimate}, exact ${exact}`)
  }
  return errors
}

function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items]
  const rand = seededRandom(seed)
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

function withoutSum(json: SketchJson): Omit<SketchJson, 'sum'> {
  const { sum: _, ...rest } = json
  return rest
}

function codeOf(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    return isEdgefleetError(e) ? e.code : `not an EdgefleetError: ${String(e)}`
  }
  return 'no error'
}

describe('DDSketch quantiles are within α of the exact value of rank ⌊q·(n−1)⌋', () => {
  for (const [name, make] of Object.entries(DATASETS)) {
    it.each(SIZES)(`${name}, n=%i`, (n) => {
      const values = make(n, 1000 + n)
      const sketch = sketchOf(values)
      expect(quantileErrors(sketch, values)).toEqual([])
      expect(sketch.quantile(0)).toBe(Math.min(...values))
      expect(sketch.quantile(1)).toBe(Math.max(...values))
      expect(sketch.count).toBe(n)
    })
  }

  it('clamps estimates into [min, max]: a constant dataset is reported exactly', () => {
    const sketch = sketchOf(DATASETS.constant!(500, 0))
    for (const q of GRID) expect(sketch.quantile(q)).toBe(42.5)
  })

  it('holds the guarantee for another alpha', () => {
    const values = DATASETS['pareto a=1.1']!(5000, 7)
    expect(quantileErrors(sketchOf(values, 0.05), values, 0.05)).toEqual([])
  })

  it('handles the extremes of the float range', () => {
    const huge = [1, 1e300, 1e306, 1.7e308] // the sum must stay finite
    expect(quantileErrors(sketchOf(huge), huge)).toEqual([])
    const tiny = [Number.MIN_VALUE, 5e-10, SKETCH_MIN_INDEXABLE, 1e-8, 1e-8]
    const sketch = sketchOf(tiny)
    expect(quantileErrors(sketch, tiny)).toEqual([])
    expect(sketch.toJSON().zero).toBe(2)
  })

  it('counts a weighted add like repeated adds', () => {
    const weighted = new DDSketch().add(3, 4).add(0, 2).add(10)
    expect(weighted.toJSON()).toStrictEqual(sketchOf([3, 3, 3, 3, 0, 0, 10]).toJSON())
  })
})

describe('DDSketch merge', () => {
  const rand = seededRandom(99)
  const parts = [
    DATASETS.lognormal!(400, 1),
    DATASETS['lognormal with 30% zeros']!(300, 2),
    DATASETS['pareto a=1.1']!(500, 3),
    [1e12, 5e11, 3], // with 1e-7 below, the union spans > 2048 bins and collapses
    [...DATASETS.uniform!(200, 5).map((v) => v * (1 + rand())), 1e-7, 2e-7],
  ]
  const all = parts.flat()

  it('gives the same bin counts whatever the order or grouping', () => {
    const expected = sketchOf(all).toJSON()
    expect(expected.counts.length).toBe(SKETCH_MAX_BINS)
    for (let seed = 0; seed < 6; seed++) {
      const merged = new DDSketch()
      for (const part of shuffled(parts, seed)) merged.merge(sketchOf(part))
      expect(withoutSum(merged.toJSON())).toStrictEqual(withoutSum(expected))
      // Float addition is not associative: the sum may differ by rounding, ≤ n·ε relative.
      expect(Math.abs(merged.sum - expected.sum)).toBeLessThanOrEqual(1e-12 * expected.sum)
    }
    const [a, b, c, d, e] = parts.map((p) => sketchOf(p))
    const tree = sketchOf([])
      .merge(a!.merge(b!))
      .merge(c!.merge(d!.merge(e!)))
    expect(withoutSum(tree.toJSON())).toStrictEqual(withoutSum(expected))
  })

  it('gives the same sketch whatever the order of adds', () => {
    const expected = withoutSum(sketchOf(all).toJSON())
    const ascending = [...all].sort((x, y) => x - y)
    for (const order of [ascending, ascending.toReversed(), shuffled(all, 1), shuffled(all, 2)]) {
      expect(withoutSum(sketchOf(order).toJSON())).toStrictEqual(expected)
    }
  })

  it('merges a sketch into itself as doubling', () => {
    const s = sketchOf(parts[0]!)
    const doubled = sketchOf([...parts[0]!, ...parts[0]!]).toJSON()
    expect(withoutSum(s.merge(s).toJSON())).toStrictEqual(withoutSum(doubled))
  })

  it('leaves a sketch unchanged when merging an empty one, and copies into an empty one', () => {
    const s = sketchOf(parts[1]!)
    const before = s.toJSON()
    expect(s.merge(new DDSketch()).toJSON()).toStrictEqual(before)
    expect(new DDSketch().merge(s).toJSON()).toStrictEqual(before)
  })
})

describe('DDSketch collapse beyond 2048 bins', () => {
  it('keeps at most 2048 bins and the documented weaker bound for collapsed ranks', () => {
    const values = draw(20_000, 42, (r) => Math.pow(10, -6 + 18 * r())) // log-uniform on 1e-6 … 1e12
    const sketch = sketchOf(values)
    const json = sketch.toJSON()
    expect(json.counts.length).toBeLessThanOrEqual(SKETCH_MAX_BINS)
    const L = json.offset
    expect(sketch.collapsedUpTo).toBeCloseTo(Math.pow(GAMMA, L - 1), 12)
    const sorted = Float64Array.from(values).sort()
    const grid = Array.from({ length: 101 }, (_, i) => i / 100)
    let collapsed = 0
    const errors: string[] = []
    for (const q of grid) {
      const exact = sorted[Math.floor(q * (sorted.length - 1))]!
      const estimate = sketch.quantile(q)
      if (q > 0 && exact <= sketch.collapsedUpTo) {
        collapsed++
        // Collapsed: never an underestimate, never above (1 − α)·γ^L < γ^L, the collapsed bin's upper edge.
        if (!(exact <= estimate && estimate <= (1 - ALPHA) * Math.pow(GAMMA, L) * (1 + SLACK)))
          errors.push(`collapsed q=${q}`)
      } else if (Math.abs(estimate - exact) > ALPHA * exact * (1 + SLACK)) {
        errors.push(`q=${q}: estimate ${estimate}, exact ${exact}`)
      }
    }
    expect(errors).toEqual([])
    expect(collapsed).toBeGreaterThan(0)
    expect(sketchOf(values.slice(0, 100).map((v) => v / 1e6 + 1)).collapsedUpTo).toBe(0)
  })
})

describe('sketch/1 JSON', () => {
  it('round-trips exactly, and a decoded sketch keeps working like the original', () => {
    for (const [name, make] of Object.entries(DATASETS)) {
      for (const n of [0, 1, 100, 3000]) {
        const original = sketchOf(make(n, n + 5))
        const text = JSON.stringify(original)
        const decoded = parseSketch(JSON.parse(text))
        expect(JSON.stringify(decoded), name).toBe(text)
        const extra = [0, 1e-3, 7, 1e9]
        for (const v of extra) {
          original.add(v)
          decoded.add(v)
        }
        expect(decoded.toJSON(), name).toStrictEqual(original.toJSON())
        for (const q of GRID) expect(decoded.quantile(q)).toBe(original.quantile(q))
      }
    }
  })

  describe.each(golden.cases)('golden case $name', ({ values, quantiles, sketch }) => {
    it('encodes to the pinned sketch, which decodes and re-encodes identically', () => {
      expect(sketchOf(values).toJSON()).toStrictEqual(sketch)
      expect(JSON.stringify(parseSketch(sketch))).toBe(JSON.stringify(sketch))
    })
    it('decodes to the pinned quantiles, within α of the data', () => {
      const decoded = parseSketch(sketch)
      // Encodings are exact everywhere; estimates may differ in the last bit between engines (Math.pow
      // is not correctly rounded: node 20 and workerd disagree on γ^46).
      for (const [q, expected] of quantiles) {
        expect(Math.abs(decoded.quantile(q!) - expected!), `q=${q}`).toBeLessThanOrEqual(1e-12 * expected!)
      }
      if (values.length > 0) expect(quantileErrors(decoded, values)).toEqual([])
    })
  })

  it('places golden values in the bins given by the formula, computed independently', () => {
    // ln γ = ln((1 + α) / (1 − α)) = 2·atanh(α) ≈ 0.0200006667; bin i holds (γ^(i−1), γ^i].
    const lnGamma = 2 * Math.atanh(ALPHA)
    const index = (x: number) => {
      const exact = Math.log(x) / lnGamma
      expect(Math.abs(exact - Math.round(exact)) > 1e-6 || Number.isInteger(exact), `${x} is not on a bin edge`).toBe(
        true,
      )
      const i = Math.ceil(exact)
      expect(Math.pow(GAMMA, i - 1) < x && x <= Math.pow(GAMMA, i), `${x} in (γ^${i - 1}, γ^${i}]`).toBe(true)
      return i
    }
    // By hand: ln(12)/ln γ = 2.484907/0.0200007 = 124.24 → 125; ln(0.5) → −34.66 → −34; ln(1e12) → 1381.5 → 1382.
    expect([1, 12, 12.1, 12.4, 0.5, 1000, 1e-6, 1e12].map(index)).toEqual([0, 125, 125, 126, -34, 346, -690, 1382])

    for (const name of ['latencies-ms', 'zeros-and-tiny', 'collapsed-1e-6-to-1e12']) {
      const { values, sketch } = golden.cases.find((c) => c.name === name)!
      const indices = values.filter((x) => x >= SKETCH_MIN_INDEXABLE).map(index)
      const top = Math.max(...indices)
      const lowest = top - (SKETCH_MAX_BINS - 1) // collapse: bins below H − 2047 fold into it
      const kept = indices.map((i) => Math.max(i, lowest))
      const offset = Math.min(...kept)
      const counts = Array.from({ length: top - offset + 1 }, (_, k) => kept.filter((i) => i === offset + k).length)
      expect({ offset: sketch.offset, counts: sketch.counts, zero: sketch.zero }, name).toStrictEqual({
        offset,
        counts,
        zero: values.length - indices.length,
      })
    }
    // Representative of bin i: 2·γ^i/(γ + 1); the median of "latencies-ms" (rank 4 = 12.1) is in bin 125.
    const median = golden.cases.find((c) => c.name === 'latencies-ms')!.quantiles.find(([q]) => q === 0.5)![1]!
    expect(median).toBeCloseTo((2 * Math.pow(GAMMA, 125)) / (GAMMA + 1), 12)
  })
})

describe('DDSketch invalid input raises EdgefleetError', () => {
  it.each([
    ['NaN', Number.NaN],
    ['a negative value', -1],
    ['-Infinity', -Infinity],
    ['Infinity', Infinity],
  ])('add(%s) → validation_failed, sketch unchanged', (_, value) => {
    const s = sketchOf([1, 2])
    expect(codeOf(() => s.add(value))).toBe('validation_failed')
    expect(s.toJSON()).toStrictEqual(sketchOf([1, 2]).toJSON())
  })

  it('rejects bad counts, quantile levels and alphas', () => {
    const s = sketchOf([1, 2])
    for (const count of [0, -1, 1.5, Number.NaN]) expect(codeOf(() => s.add(1, count))).toBe('validation_failed')
    for (const q of [-0.1, 1.1, Number.NaN]) expect(codeOf(() => s.quantile(q))).toBe('validation_failed')
    for (const alpha of [0, 1, -0.5, Number.NaN])
      expect(codeOf(() => new DDSketch({ alpha }))).toBe('validation_failed')
    expect(codeOf(() => new DDSketch().quantile(0.5))).toBe('empty_data')
  })

  it('refuses an add or merge that would overflow the sum', () => {
    const s = sketchOf([Number.MAX_VALUE])
    expect(codeOf(() => s.add(Number.MAX_VALUE))).toBe('validation_failed')
    expect(codeOf(() => s.merge(sketchOf([Number.MAX_VALUE])))).toBe('validation_failed')
    expect(s.toJSON()).toStrictEqual(sketchOf([Number.MAX_VALUE]).toJSON())
  })

  it('downscales instead of overflowing when merged counts would pass 2^53 − 1, keeping the distribution', () => {
    const a = new DDSketch().add(4, 5e15).add(40, 1e15)
    const b = new DDSketch().add(4, 5e15).add(400, 1)
    const before = b.toJSON()
    a.merge(b)
    expect(b.toJSON()).toStrictEqual(before) // the argument is left as it was
    const json = a.toJSON()
    expect(Number.isSafeInteger(json.n)).toBe(true)
    expect(json.n).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER)
    expect(parseSketch(json).toJSON()).toStrictEqual(json) // still valid sketch/1
    expect([json.min, json.max]).toEqual([4, 400])
    expect(a.quantile(0.5)).toBeCloseTo(4, 1)
    expect(a.quantile(0.95)).toBeCloseTo(40, 0)
  })

  it('normalizes -0 to 0', () => {
    expect(Object.is(new DDSketch().add(-0).min, 0)).toBe(true)
  })

  it('refuses to merge sketches of different alpha', () => {
    const other = new DDSketch({ alpha: 0.02 }).add(1)
    expect(codeOf(() => sketchOf([1]).merge(other))).toBe('validation_failed')
  })

  const valid = sketchOf([0, 3, 3, 7.25]).toJSON()
  it.each<[string, unknown, string]>([
    ['null', null, ''],
    ['a string', JSON.stringify(valid), ''],
    ['another version', { ...valid, v: 2 }, '/v'],
    ['an unknown key', { ...valid, extra: 1 }, ''],
    ['alpha out of range', { ...valid, alpha: 1.5 }, '/alpha'],
    ['a negative count', { ...valid, counts: [2, -1] }, '/counts/1'],
    ['a fractional count', { ...valid, counts: [1.5] }, '/counts/0'],
    ['a zero at the end of counts', { ...valid, counts: [...valid.counts, 0] }, '/counts'],
    ['n not matching the counts', { ...valid, n: 5 }, '/n'],
    ['min above max', { ...valid, min: 8 }, '/min'],
    ['missing max', { ...valid, max: undefined }, '/max'],
    ['min and max on an empty sketch', { ...sketchOf([]).toJSON(), min: 0, max: 0 }, '/min'],
    ['NaN sum', { ...valid, sum: Number.NaN }, '/sum'],
    [
      'too many bins',
      { ...valid, counts: [1, ...new Array<number>(SKETCH_MAX_BINS).fill(1)], n: SKETCH_MAX_BINS + 2 },
      '/counts',
    ],
  ])('fromJSON with %s → validation_failed at its pointer', (_, json, pointer) => {
    try {
      parseSketch(json)
      expect.unreachable()
    } catch (e) {
      expect(isEdgefleetError(e) && e.code).toBe('validation_failed')
      expect(isEdgefleetError(e) && e.pointer).toBe(pointer)
    }
  })
})
