import { describe, expect, it } from 'vitest'
import { binnedVerdict, LOCAL_MIN_OBSERVATIONS, pValuesEqual } from '../../../core/drift/policy.ts'
import type { Profile } from '../../../core/formats/profile.ts'
import { categoryIndex, categoryLookup } from '../../../core/profile/bin.ts'
import { buildProfile } from '../../../core/profile/build.ts'
import { FeatureHistogram } from '../../../core/profile/histogram.ts'
import { categoryKey } from '../../../core/profile/values.ts'
import { CategoryCodes } from '../../../worker/category-codes.ts'
import { DriftMonitor } from '../../../worker/drift-monitor.ts'
import { seededNormal, seededRandom } from '../../../scripts/lib/random.ts'
import seattle from '../../vectors/drift-seattle.json'

const MINUTE = 60_000
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0)

/** A profile straight from the scipy fixture: the 2012 reference counts on numpy's quantile edges. */
function seattleProfile(): Profile {
  const features: Profile['features'] = {}
  for (const [name, f] of Object.entries(seattle.numeric)) {
    const n = f.refCounts.reduce((a, b) => a + b, 0)
    features[name] = {
      type: 'numeric',
      edges: f.edges,
      counts: f.refCounts,
      n,
      missing: 0,
      mean: 0,
      std: 1,
      min: Math.min(...f.ref),
      max: Math.max(...f.ref),
    }
  }
  const w = seattle.weather
  const outputs: Profile['outputs'] = {
    weather: {
      type: 'categorical',
      categories: w.categories,
      counts: [...w.refCounts, 0],
      n: w.refCounts.reduce((a, b) => a + b, 0),
      missing: 0,
    },
  }
  return { v: 1, rows: 366, features, outputs }
}

describe('DriftMonitor', () => {
  it('reproduces scipy on seattle-weather 2012 vs 2015: temp_max drifts, wind does not', () => {
    const monitor = new DriftMonitor(seattleProfile(), { now: T0 })
    const temp = monitor.channel('features', 'temp_max')
    const wind = monitor.channel('features', 'wind')
    const cur = seattle.numeric
    for (let i = 0; i < cur.temp_max.cur.length; i++) {
      monitor.at(T0 + i * 1000) // a few minutes of traffic
      monitor.add(temp, cur.temp_max.cur[i])
      monitor.add(wind, cur.wind.cur[i])
    }
    const report = monitor.report(T0 + 10 * MINUTE)
    expect(report.features.temp_max).toMatchObject({ n: 365, drifted: true, reason: 'drifted' })
    expect(pValuesEqual(report.features.temp_max.chi2_p, cur.temp_max.chi2_p)).toBe(true)
    expect(report.features.temp_max.js).toBeCloseTo(cur.temp_max.js, 12)
    expect(report.features.temp_max.psi).toBeCloseTo(cur.temp_max.psi, 12)
    expect(report.features.wind).toMatchObject({ n: 365, drifted: false, reason: 'no_drift' })
    expect(pValuesEqual(report.features.wind.chi2_p, cur.wind.chi2_p)).toBe(true)
    // Channels that saw nothing say so instead of guessing.
    expect(report.features.temp_min).toMatchObject({ n: 0, drifted: false, reason: 'insufficient_data' })
    expect(report.drifted).toEqual(['temp_max'])
  })

  it('bins exactly like core FeatureHistogram, including missing values of every kind', () => {
    const rand = seededRandom(7)
    const normal = seededNormal(rand)
    const train = Array.from({ length: 2000 }, () => ({
      x: normal() * 3 + 1,
      c: ['a', 'b', 'c', '1', '2.5', 'true'][Math.floor(rand() * 6)],
    }))
    const profile = buildProfile(train, { topK: 4 })
    const monitor = new DriftMonitor(profile, { now: T0 })
    const hx = new FeatureHistogram(profile.features.x)
    const hc = new FeatureHistogram(profile.features.c)
    const x = profile.features.x
    if (x.type !== 'numeric') throw new Error('x should profile as numeric')
    const weird = [null, undefined, Number.NaN, Infinity, '', '  ', 'x', {}, true, false, 1, 2.5, -0, 0]
    const values = [...Array.from({ length: 3000 }, () => normal() * 4), ...weird, ...x.edges]
    const cats = [
      ...Array.from({ length: 3000 }, () => ['a', 'b', 'c', 'd', '1', 1, 2.5, '2.50', true][Math.floor(rand() * 9)]),
      ...weird,
    ]
    for (const v of values) {
      monitor.add(monitor.channel('features', 'x'), v)
      hx.add(v)
    }
    for (const v of cats) {
      monitor.add(monitor.channel('features', 'c'), v)
      hc.add(v)
    }
    const { features } = monitor.collect()
    expect(features.x).toEqual(hx.snapshot())
    expect(features.c).toEqual(hc.snapshot())
  })

  it('forgets minutes older than the window and reuses ring slots after a wrap', () => {
    const profile = buildProfile(Array.from({ length: 100 }, (_, i) => ({ x: i })))
    const monitor = new DriftMonitor(profile, { now: T0, windowMinutes: 3 })
    const x = monitor.channel('features', 'x')
    for (let m = 0; m < 5; m++) {
      monitor.at(T0 + m * MINUTE)
      for (let k = 0; k <= m; k++) monitor.add(x, 50) // minute m gets m + 1 values
    }
    // Window of minute 4: minutes 2, 3, 4 → 3 + 4 + 5 values.
    expect(monitor.report(T0 + 4 * MINUTE).features.x.n).toBe(12)
    expect(monitor.report(T0 + 4 * MINUTE).window).toEqual({ start: T0 + 2 * MINUTE, end: T0 + 5 * MINUTE })
    expect(monitor.report(T0 + 6 * MINUTE).features.x.n).toBe(5)
    expect(monitor.report(T0 + 7 * MINUTE).features.x.n).toBe(0)
    // A slot last used 3 minutes ago starts from zero when its minute comes round again.
    monitor.at(T0 + 7 * MINUTE)
    monitor.add(x, 50)
    expect(monitor.report(T0 + 7 * MINUTE).features.x.n).toBe(1)
    // A clock that steps back keeps counting into the newest minute instead of overwriting it.
    monitor.at(T0 + 5 * MINUTE)
    monitor.add(x, 50)
    expect(monitor.report(T0 + 7 * MINUTE).features.x.n).toBe(2)
    // Totals since load keep everything.
    const all = monitor.collect().features.x
    expect(all.counts.reduce((a, b) => a + b, 0)).toBe(15 + 2)
  })

  it('gives no verdict on a handful of predictions: insufficient_data until the window holds 100 observations', () => {
    const monitor = new DriftMonitor(seattleProfile(), { now: T0 })
    const temp = monitor.channel('features', 'temp_max')
    const hot = seattle.numeric.temp_max.cur.map((v: number) => v + 15)
    for (let i = 0; i < 3; i++) monitor.add(temp, hot[i])
    expect(monitor.report(T0).features.temp_max).toMatchObject({ n: 3, drifted: false, reason: 'insufficient_data' })
    expect(monitor.report(T0).drifted).toEqual([])
    for (let i = 3; i < LOCAL_MIN_OBSERVATIONS; i++) monitor.add(temp, hot[i])
    expect(monitor.report(T0).features.temp_max).toMatchObject({ n: 100, drifted: true, reason: 'drifted' })
  })

  it('reports the verdict of core binnedVerdict under the given policy', () => {
    const profile = buildProfile(Array.from({ length: 500 }, (_, i) => ({ x: i % 50 })))
    const strict = new DriftMonitor(profile, { now: T0, policy: { binnedMinJs: 0.05 } })
    const lax = new DriftMonitor(profile, { now: T0 })
    for (let i = 0; i < 300; i++) {
      for (const m of [strict, lax]) m.add(m.channel('features', 'x'), (i % 40) + 5)
    }
    const counts = strict.collect().features.x.counts
    const expected = binnedVerdict(profile.features.x.counts, counts, { binnedMinJs: 0.05 })
    expect(strict.report(T0).features.x).toMatchObject({
      drifted: expected.drifted,
      js: expected.metrics.js,
      chi2_p: expected.metrics.chi2_p,
    })
    expect(lax.report(T0).features.x.js).toBe(expected.metrics.js)
  })

  it('collect() hands out what was counted since the previous collect', () => {
    const profile = buildProfile(Array.from({ length: 100 }, (_, i) => ({ x: i, c: i % 2 ? 'odd' : 'even' })))
    const monitor = new DriftMonitor(profile, { now: T0 })
    monitor.add(monitor.channel('features', 'c'), 'odd')
    monitor.add(monitor.channel('features', 'c'), null)
    expect(monitor.collect().features.c).toEqual({ counts: [0, 1, 0], missing: 1 })
    monitor.add(monitor.channel('features', 'c'), 'prime')
    expect(monitor.collect().features.c).toEqual({ counts: [0, 0, 1], missing: 0 })
  })

  it('rejects a window that is not a whole number of minutes in [1, 1440]', () => {
    const profile = buildProfile([{ x: 1 }, { x: 2 }])
    expect(() => new DriftMonitor(profile, { now: T0, windowMinutes: 0 })).toThrow(
      expect.objectContaining({ code: 'bad_request', pointer: '/driftWindowMinutes' }),
    )
  })
})

describe('CategoryCodes', () => {
  it('gives the same position as core categoryIndex(categoryKey(v)), without stringifying numbers', () => {
    const categories = ['a', '1', '2.5', '-3', '1e+21', '0', 'true', '007', ' 4', 'NaN', 'Infinity']
    const codes = new CategoryCodes(categories)
    const lookup = categoryLookup(categories)
    const values = [
      1,
      2.5,
      -3,
      1e21,
      0,
      -0,
      7,
      4,
      Number.NaN,
      Infinity,
      -Infinity,
      true,
      false,
      '007',
      ' 4',
      'a',
      '',
      ' ',
      null,
      undefined,
      {},
      [],
      'NaN',
      'Infinity',
      1.0000000000000002,
    ]
    for (const v of values) {
      const key = categoryKey(v)
      expect(codes.code(v), String(v)).toBe(key === undefined ? -1 : categoryIndex(lookup, key))
    }
  })
})
