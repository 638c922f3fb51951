import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'csv-parse/sync'
import { describe, expect, it } from 'vitest'
import { EdgefleetError } from '../../core/errors.ts'
import { OTHER_CATEGORY, Profile } from '../../core/formats/profile.ts'
import type { NumericProfile } from '../../core/formats/profile.ts'
import {
  binIndex,
  buildProfile,
  categoricalProfile,
  FeatureHistogram,
  inferColumns,
  looksLikeIdName,
  mergeCounts,
  mergeHistograms,
  numericProfile,
  quantileEdges,
  quantileLevels,
  quantileSorted,
} from '../../core/profile/index.ts'
import { seededNormal, seededRandom } from '../../scripts/lib/random.ts'
import quantileVectors from '../vectors/profile-quantiles.json'

const seattleCsv = fileURLToPath(new URL('../../node_modules/vega-datasets/data/seattle-weather.csv', import.meta.url))

/** Seattle weather as the CLI reads it: numbers as numbers. */
function seattle(): Record<string, unknown>[] {
  return parse(readFileSync(seattleCsv, 'utf8'), {
    columns: true,
    cast: (v: string) => (v !== '' && !Number.isNaN(Number(v)) ? Number(v) : v),
  })
}

function relClose(actual: number, expected: number, rel = 1e-12): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected)))
}

describe('quantile edges match numpy (np.quantile, linear; np.unique)', () => {
  it.each(quantileVectors.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(quantileEdges(c.values, c.bins)).toEqual(c.edges)
    const p = numericProfile(c.values, c.bins)
    expect(p.edges).toEqual(c.edges)
    expect(p.counts).toEqual(c.counts)
    expect([p.n, p.missing, p.min, p.max]).toEqual([c.values.length, 0, c.min, c.max])
    relClose(p.mean, c.mean)
    relClose(p.std, c.std)
  })

  it('uses 19 inner edges at q = 0.05 … 0.95 by default, correctly rounded', () => {
    const levels = quantileLevels(20)
    expect(levels).toHaveLength(19)
    expect(levels[0]).toBe(0.05)
    expect(levels[18]).toBe(0.95)
    const rand = seededRandom(11)
    const xs = Array.from({ length: 500 }, () => rand())
    expect(quantileEdges(xs)).toHaveLength(19)
  })

  it('interpolates like numpy on a tiny sample', () => {
    const sorted = [1, 2, 3, 4]
    expect(quantileSorted(sorted, 0)).toBe(1)
    expect(quantileSorted(sorted, 0.5)).toBe(2.5)
    expect(quantileSorted(sorted, 1)).toBe(4)
    expect(quantileEdges([5, 1, 4, 2, 3], 4)).toEqual([2, 3, 4])
  })

  it('collapses duplicate quantiles, so heavily tied data has fewer bins', () => {
    const xs = [...Array(90).fill(0), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    const edges = quantileEdges(xs)
    expect(edges).toEqual([...new Set(edges)].sort((a, b) => a - b))
    expect(edges.length).toBeLessThan(19)
    const p = numericProfile(xs)
    expect(p.counts).toHaveLength(edges.length + 1)
    expect(Profile.shape.features.parse({ x: p })).toBeTruthy()
    expect(quantileEdges(Array(10).fill(7))).toEqual([7])
  })

  it('rejects a bin count outside 1 … 1001', () => {
    expect(() => quantileLevels(0)).toThrow(EdgefleetError)
    expect(() => quantileLevels(2.5)).toThrow(EdgefleetError)
  })
})

describe('binIndex edge cases (right-open bins, underflow 0, overflow edges.length)', () => {
  const edges = Float64Array.of(1, 2, 3)
  it.each([
    ['below the first edge', 0.5, 0],
    ['exactly on the first edge', 1, 1],
    ['inside a bin', 1.5, 1],
    ['exactly on an inner edge', 2, 2],
    ['just below an edge', 2 - 2 ** -51, 1],
    ['exactly on the last edge', 3, 3],
    ['above the last edge', 1e9, 3],
    ['-Infinity', Number.NEGATIVE_INFINITY, 0],
    ['+Infinity', Number.POSITIVE_INFINITY, 3],
    ['NaN (no bin: missing)', Number.NaN, -1],
  ])('%s', (_name, x, expected) => {
    expect(binIndex(edges, x)).toBe(expected)
  })

  it('agrees with a linear scan on seeded random edges and values', () => {
    const rand = seededRandom(2024)
    const normal = seededNormal(rand)
    for (let trial = 0; trial < 200; trial++) {
      const e = Float64Array.from(quantileEdges(Array.from({ length: 50 }, normal), 1 + Math.floor(rand() * 30)))
      for (let k = 0; k < 20; k++) {
        const x = k % 4 === 0 && e.length > 0 ? e[Math.floor(rand() * e.length)] : normal() * 1.5
        expect(binIndex(e, x)).toBe(e.filter((v) => v <= x).length)
      }
    }
  })
})

describe('FeatureHistogram counts values and missing', () => {
  it('counts NaN, null, undefined, blank strings, Infinity and wrong types as missing in a numeric feature', () => {
    const profile = numericProfile([1, 2, 3, 4], 2)
    const h = new FeatureHistogram(profile)
    for (const v of [0, 2.5, 99, Number.NaN, null, undefined, '', ' ', '3', true, Number.POSITIVE_INFINITY, {}])
      h.add(v)
    expect(profile.edges).toEqual([2.5])
    expect(h.snapshot()).toEqual({ counts: [1, 2], missing: 9 })
    expect(h.n).toBe(3)
    h.reset()
    expect(h.snapshot()).toEqual({ counts: [0, 0], missing: 0 })
  })

  it('maps unknown categories to __other__ and numbers to their string forms', () => {
    const profile = categoricalProfile(['a', 'b', 1, 'a'], 50)
    // "1" and "b" tie on count: "1" sorts first.
    expect(profile.categories).toEqual(['a', '1', 'b'])
    const h = new FeatureHistogram(profile)
    for (const v of ['a', 'b', 'c', 1, '1', 2, null, '', Number.NaN, [1]]) h.add(v)
    expect(h.snapshot()).toEqual({ counts: [1, 2, 1, 2], missing: 4 })
  })
})

describe('mergeCounts / mergeHistograms are exact sums', () => {
  it('equals the histogram of the concatenated data, in any order', () => {
    const rand = seededRandom(99)
    const normal = seededNormal(rand)
    const profile = numericProfile(Array.from({ length: 300 }, normal))
    const parts = Array.from({ length: 5 }, () =>
      Array.from({ length: 1 + Math.floor(rand() * 400) }, () => (rand() < 0.05 ? null : normal() * 2)),
    )
    const hist = (values: unknown[]) => {
      const h = new FeatureHistogram(profile)
      for (const v of values) h.add(v)
      return h.snapshot()
    }
    const whole = hist(parts.flat())
    const forward = parts.map(hist).reduce(mergeHistograms)
    const backward = parts.map(hist).reverse().reduce(mergeHistograms)
    expect(forward).toEqual(whole)
    expect(backward).toEqual(whole)
  })

  it('stays exact beyond 2^32 and refuses inexact or mismatched input', () => {
    expect(mergeCounts([2 ** 40, 1], [2 ** 40, 2])).toEqual([2 ** 41, 3])
    expect(() => mergeCounts([1, 2], [1])).toThrow(/different bins/)
    expect(() => mergeCounts([Number.MAX_SAFE_INTEGER], [1])).toThrow(EdgefleetError)
    expect(() => mergeCounts([0.5], [1])).toThrow(EdgefleetError)
    expect(() => mergeCounts([-1], [1])).toThrow(EdgefleetError)
  })
})

describe('type inference', () => {
  it('reads seattle-weather: skips the date, numbers numeric, the label categorical', () => {
    const inf = inferColumns(seattle(), { outputs: ['weather'] })
    expect(inf.skipped).toEqual([{ name: 'date', reason: 'timestamp' }])
    expect(inf.columns).toEqual([
      { name: 'precipitation', role: 'feature', type: 'numeric' },
      { name: 'temp_max', role: 'feature', type: 'numeric' },
      { name: 'temp_min', role: 'feature', type: 'numeric' },
      { name: 'wind', role: 'feature', type: 'numeric' },
      { name: 'weather', role: 'output', type: 'categorical' },
    ])
  })

  const rows = Array.from({ length: 30 }, (_, i) => ({
    user_id: i * 7,
    sessionId: `s${i}`,
    token: `tok-${i}`,
    created_at: 1_700_000_000_000 + i,
    seen: `2024-03-0${(i % 9) + 1}T10:00:00Z`,
    grade: [1, 2, 3, 4, 5][i % 5],
    level: i % 6,
    city: ['oslo', 'rome'][i % 2],
    flag: i % 3 === 0,
    humid: i / 3,
    mixed: i % 10 === 0 ? 'n/a' : i * 1.5,
  }))

  it('skips ids, timestamps and all-unique strings; ≤ 5 distinct numbers are categorical', () => {
    const inf = inferColumns(rows)
    expect(Object.fromEntries(inf.skipped.map((s) => [s.name, s.reason]))).toEqual({
      user_id: 'id',
      sessionId: 'id',
      token: 'unique',
      created_at: 'timestamp',
      seen: 'timestamp',
    })
    expect(Object.fromEntries(inf.columns.map((c) => [c.name, c.type]))).toEqual({
      grade: 'categorical',
      level: 'numeric',
      city: 'categorical',
      flag: 'categorical',
      humid: 'numeric',
      mixed: 'numeric',
    })
  })

  it('keeps named columns, forces categorical, drops ignored, selects features', () => {
    const inf = inferColumns(rows, { categorical: ['level', 'seen'], ignore: ['city', 'nope'], outputs: ['user_id'] })
    const types = Object.fromEntries(inf.columns.map((c) => [c.name, `${c.role}:${c.type}`]))
    expect(types).toMatchObject({
      level: 'feature:categorical',
      seen: 'feature:categorical',
      user_id: 'output:numeric',
    })
    expect(inf.skipped).toContainEqual({ name: 'city', reason: 'ignored' })
    const only = inferColumns(rows, { features: ['token', 'humid'] })
    expect(only.columns.map((c) => c.name)).toEqual(['token', 'humid'])
    expect(() => inferColumns(rows, { categorical: ['typo'] })).toThrow(/no column named "typo"/)
  })

  it('names ids by separator or camelCase, not by words that end in "id"', () => {
    for (const n of ['id', 'ID', 'uuid', 'user_id', 'order-id', 'customerId', 'deviceID', 'row_uuid'])
      expect(looksLikeIdName(n), n).toBe(true)
    for (const n of ['humid', 'paid', 'valid', 'idle', 'android', 'grid']) expect(looksLikeIdName(n), n).toBe(false)
  })

  it('treats a string in a numeric column as missing', () => {
    const p = buildProfile(rows).features.mixed as NumericProfile
    expect([p.n, p.missing]).toEqual([27, 3])
  })
})

describe('buildProfile', () => {
  it('builds a valid profile/1 of seattle-weather, with the label under outputs', () => {
    const data = seattle()
    const profile = buildProfile(data, { outputs: ['weather'] })
    expect(Profile.parse(JSON.parse(JSON.stringify(profile)))).toEqual(profile)
    expect(Object.keys(profile.features)).toEqual(['precipitation', 'temp_max', 'temp_min', 'wind'])
    expect(profile.rows).toBe(1461)
    const expected = quantileVectors.cases.find((c) => c.name === 'seattle temp_max')!
    expect(profile.features.temp_max).toMatchObject({
      edges: expected.edges,
      counts: expected.counts,
      n: 1461,
      missing: 0,
    })
    expect(profile.outputs.weather).toEqual({
      type: 'categorical',
      categories: ['rain', 'sun', 'fog', 'drizzle', 'snow'],
      counts: [641, 640, 101, 53, 26, 0],
      n: 1461,
      missing: 0,
    })
  })

  it('keeps the top-K categories, ties by value ascending, the rest in __other__', () => {
    const values = [...'ccccbbbaaaddeef'.split(''), null, '', OTHER_CATEGORY, 'x'.repeat(300), 'x'.repeat(300)]
    const p = categoricalProfile(values, 3)
    // b and a tie with 3, c leads with 4; the rest (d e e f __other__ and the two long values) is other.
    expect(p).toEqual({ type: 'categorical', categories: ['c', 'a', 'b'], counts: [4, 3, 3, 8], n: 18, missing: 2 })
    const shuffled = [...values].reverse()
    expect(categoricalProfile(shuffled, 3)).toEqual(p)
    expect(categoricalProfile(values, 50).categories).toEqual(['c', 'a', 'b', 'd', 'e', 'f'])
  })

  it('records mean, population std (ddof = 0), min, max and missing', () => {
    const p = numericProfile([2, 4, 4, 4, 5, 5, 7, 9, null, Number.NaN, 'x'])
    expect([p.mean, p.std, p.min, p.max, p.n, p.missing]).toEqual([5, 2, 2, 9, 8, 3])
  })

  it('refuses empty data and a forced column with no values', () => {
    expect(() => buildProfile([])).toThrow(expect.objectContaining({ code: 'empty_data' }))
    expect(() => buildProfile([{ a: null }, { a: '' }], { categorical: ['a'] })).toThrow(
      expect.objectContaining({ code: 'empty_data' }),
    )
    expect(
      buildProfile([
        { a: null, b: 1.5 },
        { a: '', b: 2 },
      ]).features,
    ).not.toHaveProperty('a')
  })
})
