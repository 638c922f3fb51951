// Drift statistics against scipy (vectors from scripts/make-drift-fixtures.py). Runs unchanged in
// Node, workerd and Chromium; the slowest vectors live in test/unit/drift.node.test.ts.
import { describe, expect, it } from 'vitest'
import {
  binnedKs,
  binnedMetrics,
  binnedVerdict,
  DEFAULT_DRIFT_POLICY,
  hellinger,
  jsDistance,
  psi,
  pValuesEqual,
  rawCategoricalVerdict,
  rawNumericVerdict,
  verdictKind,
} from '../../core/drift/index.ts'
import { isEdgefleetError } from '../../core/errors.ts'
import { quantileEdges } from '../../core/profile/quantiles.ts'
import {
  chi2Homogeneity,
  chi2Sf,
  gammaP,
  gammaQ,
  kolmogorovSf,
  ksTwoSample,
  lgamma,
  smirnovSf,
  wassersteinDistance,
} from '../../core/stats/index.ts'
import { generateSample, type SampleSpec } from '../helpers/drift-samples.ts'
import binnedFx from '../vectors/drift-binned.json'
import chi2Fx from '../vectors/drift-chi2.json'
import ksFx from '../vectors/drift-ks.json'
import seattleFx from '../vectors/drift-seattle.json'
import wassersteinFx from '../vectors/drift-wasserstein.json'

/** Statistics: within 1e-9, relative to the value once it exceeds 1. */
function expectClose(actual: number, expected: number | null, tol = 1e-9): void {
  if (expected === null) return void expect(actual).toBeNaN()
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(
    tol * Math.max(1, Math.abs(expected)),
  )
}

/** p-values: DESIGN's tolerance max(1e-6·p, 1e-300). */
function expectP(actual: number, expected: number): void {
  expect(pValuesEqual(actual, expected), `p ${actual} vs ${expected}`).toBe(true)
}

function expectValidationError(fn: () => unknown): void {
  try {
    fn()
  } catch (e) {
    expect(isEdgefleetError(e) && e.code === 'validation_failed', String(e)).toBe(true)
    return
  }
  throw new Error('expected a validation_failed error')
}

describe('incomplete gamma and chi-squared (scipy.special, scipy.stats.chi2)', () => {
  it.each(chi2Fx.lgamma)('lgamma(%s)', (x, expected) => {
    expect(Math.abs(lgamma(x) - expected)).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(expected)))
  })

  // ln Q has condition number ~x and ln P ~a, so the attainable relative accuracy scales with them.
  it.each(chi2Fx.gamma)('P and Q at a=%s, x=%s', (a, x, p, q) => {
    const tol = 5e-14 * Math.max(1, a, x)
    expect(Math.abs(gammaP(a, x) - p)).toBeLessThanOrEqual(tol * p)
    expect(Math.abs(gammaQ(a, x) - q)).toBeLessThanOrEqual(tol * q)
  })

  it.each(chi2Fx.chi2sf)('chi2.sf(%s, dof %s)', (x, dof, expected) => expectP(chi2Sf(x, dof), expected))

  it.each(chi2Fx.tables)('chi2_contingency: $name', ({ ref, cur, statistic, dof, pvalue }) => {
    const r = chi2Homogeneity(ref, cur)
    expectClose(r.statistic, statistic)
    expect(r.dof).toBe(dof)
    expectP(r.pvalue, pvalue)
  })
})

describe('two-sample KS (scipy ks_2samp, method auto)', () => {
  it.each(ksFx.cases)('$name', ({ x, y, statistic, pvalue, method, location, sign }) => {
    const r = ksTwoSample(x, y)
    expectClose(r.statistic, statistic)
    expectP(r.pvalue, pvalue)
    expect([r.method, r.location, r.sign]).toEqual([method, location, sign])
  })

  it.each(ksFx.generated.filter((c) => c.weight === 'fast'))(
    '$name',
    ({ gen, statistic, pvalue, method, location, sign }) => {
      const r = ksTwoSample(generateSample(gen.x as SampleSpec), generateSample(gen.y as SampleSpec))
      expectClose(r.statistic, statistic)
      expectP(r.pvalue, pvalue)
      expect([r.method, r.location, r.sign]).toEqual([method, location, sign])
    },
  )

  it.each(ksFx.kstwo.filter(([n]) => n <= 20_000))('kstwo.sf n=%s d=%s', (n, d, expected) =>
    expectP(kolmogorovSf(n, d), expected),
  )

  it.each(ksFx.smirnov)('smirnov n=%s d=%s', (n, d, expected) => expectP(smirnovSf(n, d), expected))

  it('rejects empty and non-finite samples', () => {
    expectValidationError(() => ksTwoSample([], [1]))
    expectValidationError(() => ksTwoSample([1, Number.NaN], [1]))
    expectValidationError(() => wassersteinDistance([1], [Number.POSITIVE_INFINITY]))
  })
})

describe('Wasserstein-1 (scipy wasserstein_distance)', () => {
  it.each(wassersteinFx.cases)('$name', ({ u, v, distance }) => expectClose(wassersteinDistance(u, v), distance))
})

describe('binned metrics (PSI, JS distance, Hellinger, binned KS)', () => {
  it.each(binnedFx.cases)('$name', ({ ref, cur, psi: p, js, hellinger: h, ks }) => {
    expectClose(psi(ref, cur), p)
    expectClose(jsDistance(ref, cur), js)
    expectClose(hellinger(ref, cur), h)
    expectClose(binnedKs(ref, cur), ks)
  })

  it('rejects mismatched, negative and non-finite counts', () => {
    for (const metric of [psi, jsDistance, hellinger, binnedKs, chi2Homogeneity, binnedVerdict]) {
      expectValidationError(() => metric([1, 2], [1, 2, 3]))
      expectValidationError(() => metric([1, -2], [1, 2]))
      expectValidationError(() => metric([1, 2], [Number.NaN, 2]))
      expectValidationError(() => metric([Number.POSITIVE_INFINITY, 2], [1, 2]))
    }
  })
})

describe('seattle-weather 2012 (reference) vs 2015 (current)', () => {
  const numeric = Object.entries(seattleFx.numeric)

  it.each(numeric)('%s: binned metrics from the profile counts', (_, c) => {
    const m = binnedMetrics(c.refCounts, c.curCounts)
    expectClose(m.chi2, c.chi2)
    expectP(m.chi2_p, c.chi2_p)
    expect(m.dof).toBe(c.dof)
    expectClose(m.js, c.js)
    expectClose(m.psi, c.psi)
  })

  it.each(numeric)('%s: raw KS, Wasserstein and profile/1 binning', (_, c) => {
    const v = rawNumericVerdict(c.ref, c.cur, c.edges)
    expectClose(v.metrics.ks, c.ks)
    expectP(v.metrics.ks_p, c.ks_p)
    expectClose(v.metrics.wasserstein, c.wasserstein)
    expectClose(v.metrics.binned?.chi2 ?? Number.NaN, c.chi2)
    // The profile module's quantile edges are the ones scipy's side used (numpy linear quantiles).
    expect(quantileEdges(c.ref)).toEqual(c.edges)
  })

  it('binned verdicts with the default policy match DESIGN', () => {
    const verdict = (col: keyof typeof seattleFx.numeric) => {
      const c = seattleFx.numeric[col]
      return binnedVerdict(c.refCounts, c.curCounts).reason
    }
    expect(verdict('temp_max')).toBe('drifted') // p 1.9e-4, JS 0.22
    expect(verdict('wind')).toBe('no_drift') // p 0.17, JS 0.16: JS alone would fire
    expect(verdict('temp_min')).toBe('no_drift') // p 0.029
    expect(verdict('precipitation')).toBe('no_drift')
  })

  it('raw verdicts (366 reference rows, the CLI path): KS p < 0.05', () => {
    expect(verdictKind(seattleFx.numeric.temp_max.ref.length)).toBe('raw')
    const reasons = Object.fromEntries(numeric.map(([col, c]) => [col, rawNumericVerdict(c.ref, c.cur).reason]))
    expect(reasons).toEqual({ temp_max: 'drifted', temp_min: 'drifted', wind: 'no_drift', precipitation: 'no_drift' })
  })

  it('weather (categorical): chi-squared and JS, drifted', () => {
    const w = seattleFx.weather
    const v = rawCategoricalVerdict(w.refCounts, w.curCounts)
    expectClose(v.metrics.chi2, w.chi2)
    expectP(v.metrics.chi2_p, w.chi2_p)
    expect(v.metrics.dof).toBe(w.dof)
    expectClose(v.metrics.js, w.js)
    expect(v.reason).toBe('drifted')
  })
})

describe('drift policy', () => {
  const tempMax = seattleFx.numeric.temp_max

  it('is overridable: a stricter effect size turns temp_max into no drift', () => {
    expect(binnedVerdict(tempMax.refCounts, tempMax.curCounts, { binnedMinJs: 0.3 }).reason).toBe('no_drift')
    expect(binnedVerdict(tempMax.refCounts, tempMax.curCounts, { binnedAlpha: 1e-5 }).reason).toBe('no_drift')
    expect(DEFAULT_DRIFT_POLICY.binnedAlpha).toBe(0.01)
  })

  it('says insufficient_data, never drifted, when a side is empty or below minCount', () => {
    expect(binnedVerdict([0, 0, 0], [1, 2, 3])).toMatchObject({ drifted: false, reason: 'insufficient_data' })
    expect(binnedVerdict([], [])).toMatchObject({ drifted: false, reason: 'insufficient_data' })
    expect(binnedVerdict([5, 5], [1, 0], { minCount: 30 }).reason).toBe('insufficient_data')
    expect(binnedVerdict([5, 5], [0, 0], { minCount: 0 }).reason).toBe('insufficient_data')
    expect(rawNumericVerdict([1, 2, 3], [])).toMatchObject({ drifted: false, reason: 'insufficient_data' })
    expect(rawCategoricalVerdict([3, 4], [0, 0]).reason).toBe('insufficient_data')
  })

  it('uses raw verdicts up to 1000 reference rows, binned beyond', () => {
    expect(verdictKind(1000)).toBe('raw')
    expect(verdictKind(1001)).toBe('binned')
    expect(verdictKind(5000, { rawMaxReferenceRows: 10_000 })).toBe('raw')
  })

  it('rejects thresholds outside their range', () => {
    expectValidationError(() => binnedVerdict([1], [1], { binnedAlpha: 0 }))
    expectValidationError(() => verdictKind(10, { rawMaxReferenceRows: -1 }))
  })

  it('compares p-values within max(1e-6·p, 1e-300)', () => {
    expect(pValuesEqual(0.05, 0.05 * (1 + 9e-7))).toBe(true)
    expect(pValuesEqual(0.05, 0.05 * (1 + 2e-6))).toBe(false)
    expect(pValuesEqual(0, 5e-301)).toBe(true)
    expect(pValuesEqual(0, 2e-300)).toBe(false)
    expect(pValuesEqual(Number.NaN, Number.NaN)).toBe(true)
    expect(pValuesEqual(Number.NaN, 0)).toBe(false)
  })
})
