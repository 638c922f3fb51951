import { describe, expect, it } from 'vitest'
import {
  calibratedConfidence,
  calibrationVariance,
  CONFIDENCE_GRID,
  fitCalibration,
  isOnGrid,
  onGrid,
} from '../../core/estimate/calibration.ts'
import {
  emptyCalibrated,
  estimatedAccuracy,
  mergeCalibrated,
  observeConfidence,
} from '../../core/estimate/estimated-accuracy.ts'
import { calibrationFromRecords } from '../../core/estimate/reference.ts'
import { Calibration } from '../../core/formats/calibration.ts'
import { Profile } from '../../core/formats/profile.ts'
import { Report } from '../../core/formats/telemetry.ts'
import { addReport, decodeAggregate, emptyAggregate, encodeAggregate } from '../../core/telemetry/aggregate.ts'
import { summarize } from '../../core/telemetry/summarize.ts'
import { seededRandom, shuffled } from '../../scripts/lib/random.ts'
import { makeReport, PROFILE } from '../helpers/telemetry.ts'

/** Reference outcomes of a model whose top score s is right with probability truth(s). */
function outcomes(n: number, seed: number, truth: (s: number) => number) {
  const rand = seededRandom(seed)
  return Array.from({ length: n }, () => {
    const score = 0.3 + 0.7 * rand()
    return { score, correct: rand() < truth(score) }
  })
}

describe('fitCalibration', () => {
  it('fits equal-mass bins whose accuracies never decrease, every bin non-empty, valid as profile/1 calibration', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const cal = fitCalibration(
        outcomes(500, seed, (s) => s),
        { label: 'weather', bins: 10 },
      )
      expect(Calibration.safeParse(cal).success).toBe(true)
      expect(cal.counts.reduce((a, b) => a + b, 0)).toBe(500)
      for (const c of cal.counts) expect(c).toBeGreaterThan(0)
      for (let i = 1; i < cal.counts.length; i++)
        expect(cal.correct[i] / cal.counts[i]).toBeGreaterThanOrEqual(cal.correct[i - 1] / cal.counts[i - 1])
    }
  })

  it('keeps 10 bins of 50 rows each when accuracy rises with the score', () => {
    // Scores 0.005, 0.015, … and correct exactly when the rank is at least the bin index: monotone.
    const data = Array.from({ length: 500 }, (_, i) => ({
      score: (i + 0.5) / 500,
      correct: i % 50 < Math.floor(i / 50),
    }))
    const cal = fitCalibration(data, { label: 'y' })
    expect(cal.counts).toEqual(new Array(10).fill(50))
    expect(cal.correct).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(cal.edges).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9].map((e) => e + 0.001))
  })

  it('pools adjacent violators: a dip is merged with its neighbour into their joint accuracy', () => {
    const data = [
      ...Array.from({ length: 10 }, (_, i) => ({ score: 0.1 + i / 1000, correct: i < 6 })), // 0.6
      ...Array.from({ length: 10 }, (_, i) => ({ score: 0.5 + i / 1000, correct: i < 4 })), // 0.4
      ...Array.from({ length: 10 }, (_, i) => ({ score: 0.9 + i / 1000, correct: i < 9 })), // 0.9
    ]
    const cal = fitCalibration(data, { label: 'y', bins: 3 })
    expect(cal.counts).toEqual([20, 10])
    expect(cal.correct).toEqual([10, 9])
    expect(cal.edges).toEqual([0.9])
  })

  it('keeps ties in one bin and never makes an empty one', () => {
    const data = Array.from({ length: 100 }, (_, i) => ({ score: i < 80 ? 0.5 : 0.9, correct: i % 2 === 0 }))
    const cal = fitCalibration(data, { label: 'y', bins: 10 })
    expect(cal.edges).toEqual([0.9])
    expect(cal.counts).toEqual([80, 20])
  })

  it('refuses no data, a score outside [0, 1] and a bad bin count with stable codes', () => {
    expect(() => fitCalibration([], { label: 'y' })).toThrow(expect.objectContaining({ code: 'empty_data' }))
    expect(() => fitCalibration([{ score: 1.5, correct: true }], { label: 'y' })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    )
    expect(() => fitCalibration([{ score: Number.NaN, correct: true }], { label: 'y' })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    )
    expect(() => fitCalibration([{ score: 0.5, correct: true }], { label: 'y', bins: 0 })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    )
  })
})

describe('calibration in profile/1', () => {
  it('old profiles without a map still parse; a map with decreasing accuracies or empty bins does not', () => {
    expect(Profile.safeParse(PROFILE).success).toBe(true)
    const cal = { method: 'histogram-pav', label: 'y', edges: [0.5], counts: [10, 10], correct: [3, 8] }
    expect(Profile.parse({ ...PROFILE, calibration: cal }).calibration).toEqual(cal)
    expect(Profile.safeParse({ ...PROFILE, calibration: { ...cal, correct: [8, 3] } }).success).toBe(false)
    expect(Profile.safeParse({ ...PROFILE, calibration: { ...cal, counts: [0, 10], correct: [0, 8] } }).success).toBe(
      false,
    )
    expect(Profile.safeParse({ ...PROFILE, calibration: { ...cal, correct: [3, 11] } }).success).toBe(false)
    expect(Profile.safeParse({ ...PROFILE, calibration: { ...cal, edges: [0.5, 0.4] } }).success).toBe(false)
  })
})

describe('calibratedConfidence', () => {
  const cal = {
    method: 'histogram-pav' as const,
    label: 'y',
    edges: [0.5, 0.8],
    counts: [3, 10, 7],
    correct: [1, 6, 7],
  }
  it('looks a score up in its right-open bin and returns the bin accuracy on the 2^-20 grid', () => {
    expect(calibratedConfidence(cal, 0)).toBe(onGrid(1 / 3))
    expect(calibratedConfidence(cal, 0.4999)).toBe(onGrid(1 / 3))
    expect(calibratedConfidence(cal, 0.5)).toBe(0.6 === onGrid(0.6) ? 0.6 : onGrid(0.6))
    expect(calibratedConfidence(cal, 0.8)).toBe(1)
    expect(calibratedConfidence(cal, 1)).toBe(1)
    for (const s of [0, 0.3, 0.5, 0.79, 1]) expect(isOnGrid(calibratedConfidence(cal, s)!)).toBe(true)
  })
  it('has no confidence for a score that is not a number in [0, 1]', () => {
    for (const s of [Number.NaN, -0.1, 1.01, Infinity]) expect(calibratedConfidence(cal, s)).toBeUndefined()
  })
})

describe('calibrated sums', () => {
  it('merge exactly in any order: grid values sum without rounding', () => {
    const rand = seededRandom(7)
    const parts = Array.from({ length: 40 }, () => {
      const s = emptyCalibrated()
      for (let i = 0; i < 1 + Math.floor(rand() * 200); i++) observeConfidence(s, onGrid(rand()))
      return s
    })
    const ref = parts.reduce(mergeCalibrated, emptyCalibrated())
    for (let k = 0; k < 10; k++) {
      const other = shuffled(parts, rand).reduce(mergeCalibrated, emptyCalibrated())
      expect(other).toEqual(ref)
    }
    expect(isOnGrid(ref.sum) && isOnGrid(ref.sumSq)).toBe(true)
    expect(ref.sumSq).toBeLessThanOrEqual(ref.sum)
    expect(ref.sum).toBeLessThanOrEqual(ref.count)
  })

  it('the 95% interval covers the realized accuracy of calibrated predictions about 95% of the time', () => {
    const rand = seededRandom(11)
    let covered = 0
    const trials = 400
    for (let t = 0; t < trials; t++) {
      const s = emptyCalibrated()
      let right = 0
      for (let i = 0; i < 300; i++) {
        const p = onGrid(0.4 + 0.6 * rand())
        observeConfidence(s, p)
        if (rand() < p) right++
      }
      const e = estimatedAccuracy(s)!
      if (right / 300 >= e.low && right / 300 <= e.high) covered++
    }
    expect(covered / trials).toBeGreaterThan(0.92)
    expect(covered / trials).toBeLessThan(0.98)
  })

  it('estimatedAccuracy: null without predictions; the map variance widens the interval; clamped to [0, 1]', () => {
    expect(estimatedAccuracy(emptyCalibrated())).toBeNull()
    const s = { count: 100, sum: 70, sumSq: 52 }
    const narrow = estimatedAccuracy(s)!
    expect(narrow.value).toBe(0.7)
    expect(narrow.high - narrow.value).toBeCloseTo(1.959964 * Math.sqrt(18 / 10_000), 6)
    const wide = estimatedAccuracy(s, 0.001)!
    expect(wide.high - wide.value).toBeCloseTo(1.959964 * Math.sqrt(18 / 10_000 + 0.001), 6)
    expect(estimatedAccuracy({ count: 4, sum: 4, sumSq: 4 }, 0.01)!.high).toBe(1)
  })

  it('calibrationVariance is the binomial variance of the reference accuracy at its own bin mix', () => {
    const cal = { method: 'histogram-pav' as const, label: 'y', edges: [0.5], counts: [50, 50], correct: [25, 40] }
    expect(calibrationVariance(cal)).toBeCloseTo((50 * 0.25 + 50 * 0.16) / 10_000, 12)
    expect(CONFIDENCE_GRID).toBe(1048576)
  })
})

describe('telemetry/1 calibrated', () => {
  const rand = seededRandom(3)
  const base = makeReport(rand, { model: 'weather', start: 1_700_000_040_000, inferences: 10 })
  const grid = 2 ** -20
  it('accepts sums on the grid within their relations and refuses the rest with a reason', () => {
    expect(Report.safeParse({ ...base, calibrated: { count: 10, sum: 7 + grid, sumSq: 5 } }).success).toBe(true)
    const bad = [
      { count: 11, sum: 7, sumSq: 5 },
      { count: 10, sum: 10.5, sumSq: 5 },
      { count: 10, sum: 5, sumSq: 6 },
      { count: 10, sum: 0.1, sumSq: 0 },
      { count: 10, sum: -1, sumSq: 0 },
      { count: 10, sum: Infinity, sumSq: 0 },
      { count: 10, sum: 5, sumSq: 4, raw: 0.7 },
    ]
    for (const calibrated of bad) expect(Report.safeParse({ ...base, calibrated }).success).toBe(false)
    const over = Report.safeParse({ ...base, calibrated: { count: 11, sum: 7, sumSq: 5 } })
    expect(over.error?.issues[0]).toMatchObject({
      path: ['calibrated', 'count'],
      params: { reason: 'calibrated_over_inferences' },
    })
  })

  it('aggregates, stores and reads back exactly; the fleet summary shows the estimate with its interval', () => {
    const cal = { method: 'histogram-pav' as const, label: 'y', edges: [0.5], counts: [50, 50], correct: [25, 40] }
    let agg = emptyAggregate()
    for (let d = 0; d < 6; d++) agg = addReport(agg, { ...base, calibrated: { count: 10, sum: 7, sumSq: 5 } }, d + 1)
    expect(agg.calibrated).toEqual({ count: 60, sum: 42, sumSq: 30 })
    const back = decodeAggregate(encodeAggregate(agg))
    expect(back.calibrated).toEqual(agg.calibrated)
    const view = summarize(back, Profile.parse({ ...PROFILE, calibration: cal }))
    if (view.suppressed) throw new Error('suppressed')
    const e = view.estimatedAccuracy!
    expect(e.n).toBe(60)
    expect(e.value).toBeCloseTo(0.7, 12)
    const half = 1.959963984540054 * Math.sqrt(12 / 3600 + calibrationVariance(cal))
    expect(e.high).toBeCloseTo(0.7 + half, 12)
    expect(e.low).toBeCloseTo(0.7 - half, 12)
    const none = summarize(decodeAggregate(encodeAggregate(addReport(emptyAggregate(), base, 1))), null, {
      minDevices: 1,
    })
    expect(none.suppressed === false && none.estimatedAccuracy).toBeNull()
    expect(encodeAggregate(addReport(emptyAggregate(), base, 1))).not.toHaveProperty('calibrated')
  })
})

describe('calibrationFromRecords', () => {
  const cols = { label: 'y', prediction: 'p', score: 's' }
  it('compares predictions with labels as category keys and skips rows without a label', () => {
    const cal = calibrationFromRecords(
      [
        { y: 1, p: '1', s: 0.9 },
        { y: 'a', p: 'b', s: 0.4 },
        { y: null, p: 'b', s: 0.4 },
        { y: '', p: 'b', s: 0.4 },
      ],
      cols,
    )
    expect(cal.counts.reduce((a, b) => a + b, 0)).toBe(2)
    expect(cal.correct.reduce((a, b) => a + b, 0)).toBe(1)
    expect(cal.label).toBe('y')
  })
  it('refuses a labelled row without a prediction or with a bad score, naming the row, and data without labels', () => {
    expect(() =>
      calibrationFromRecords(
        [
          { y: 'a', p: 'a', s: 0.5 },
          { y: 'a', s: 0.5 },
        ],
        cols,
      ),
    ).toThrow(expect.objectContaining({ code: 'validation_failed', message: expect.stringContaining('row 2') }))
    expect(() => calibrationFromRecords([{ y: 'a', p: 'a', s: '0.5' }], cols)).toThrow(
      expect.objectContaining({ code: 'validation_failed', message: expect.stringContaining('row 1') }),
    )
    expect(() => calibrationFromRecords([{ y: 'a', p: 'a', s: 1.2 }], cols)).toThrow(
      expect.objectContaining({ code: 'validation_failed' }),
    )
    expect(() => calibrationFromRecords([{ p: 'a', s: 0.5 }], cols)).toThrow(
      expect.objectContaining({ code: 'empty_data' }),
    )
  })
})
