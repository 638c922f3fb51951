// The retrainer's pure parts: split/1 (deterministic, stratified), holdout metrics, and the gates
// (parsing every flag form, each verdict with its numbers, the default majority-baseline gate).
import { describe, expect, it } from 'vitest'
import { isEdgefleetError } from '../../core/errors.ts'
import type { RunMetrics } from '../../core/formats/run.ts'
import { evaluateGates, parseGate, rejectionLine, withDefaultGates } from '../../core/retrain/gates.ts'
import { holdoutMetrics, majorityClass, majorityJudged } from '../../core/retrain/metrics.ts'
import { stratifiedSplit } from '../../core/retrain/split.ts'
import { seededRandom } from '../../scripts/lib/random.ts'

const rand = seededRandom(7)
const LABELS = Array.from({ length: 1000 }, () => ['rain', 'sun', 'fog', 'snow'][Math.floor(rand() ** 2 * 4)])

describe('stratifiedSplit (split/1)', () => {
  it('is the same for the same seed, and another split for another seed', () => {
    expect(stratifiedSplit(LABELS, 0.2, 1)).toEqual(stratifiedSplit(LABELS, 0.2, 1))
    expect(stratifiedSplit(LABELS, 0.2, 2).holdout).not.toEqual(stratifiedSplit(LABELS, 0.2, 1).holdout)
  })

  it('covers every labeled row once and keeps each class at its share of the holdout', () => {
    const { train, holdout } = stratifiedSplit(LABELS, 0.2, 3)
    expect([...train, ...holdout].sort((a, b) => a - b)).toEqual(LABELS.map((_, i) => i))
    for (const y of new Set(LABELS)) {
      const n = LABELS.filter((l) => l === y).length
      expect(holdout.filter((i) => LABELS[i] === y).length).toBe(Math.round(n * 0.2))
    }
  })

  it('skips unlabeled rows, keeps a single-row class in training, and never holds out a whole class', () => {
    const { train, holdout } = stratifiedSplit(['a', undefined, 'b', 'b', 'c', 'c', 'c'], 0.9, 1)
    expect(train).toContain(0)
    expect([...train, ...holdout]).not.toContain(1)
    expect(holdout.filter((i) => i === 2 || i === 3)).toHaveLength(1)
    expect(holdout.filter((i) => i >= 4)).toHaveLength(2)
  })

  it('is pinned: the first holdout rows of seed 1 stay what they are (a changed split is split/2)', () => {
    expect(stratifiedSplit(LABELS, 0.2, 1).holdout.slice(0, 8)).toMatchInlineSnapshot(`
      [
        24,
        25,
        26,
        27,
        30,
        32,
        36,
        41,
      ]
    `)
  })
})

describe('holdout metrics', () => {
  const rows = [
    { truth: 'sun', predicted: 'sun', pTruth: 0.8 },
    { truth: 'sun', predicted: 'rain', pTruth: 0.3 },
    { truth: 'rain', predicted: 'rain', pTruth: 0.6 },
    { truth: 'rain', predicted: 'sun', pTruth: 0 },
  ]
  it('computes accuracy, per-class and per-slice accuracy and a clamped log-loss', () => {
    const m = holdoutMetrics(rows, { month: ['1', '1', '2', undefined] })
    expect(m.accuracy).toBe(0.5)
    expect(m.logLoss).toBeCloseTo(-(Math.log(0.8) + Math.log(0.3) + Math.log(0.6) + Math.log(1e-15)) / 4, 12)
    expect(m.perClass).toEqual({ rain: { n: 2, accuracy: 0.5 }, sun: { n: 2, accuracy: 0.5 } })
    expect(m.perSlice).toEqual({ month: { '1': { n: 2, accuracy: 0.5 }, '2': { n: 1, accuracy: 1 } } })
  })

  it('judges the majority-class predictor with the training shares as probabilities', () => {
    expect(majorityClass(['b', 'a', 'a', 'b'])).toEqual({ label: 'a', share: 0.5 })
    const judged = majorityJudged(['sun', 'sun', 'sun', 'rain'], ['sun', 'rain', 'fog'])
    expect(judged).toEqual([
      { truth: 'sun', predicted: 'sun', pTruth: 0.75 },
      { truth: 'rain', predicted: 'sun', pTruth: 0.25 },
      { truth: 'fog', predicted: 'sun', pTruth: 0 },
    ])
  })
})

describe('parseGate', () => {
  it.each([
    ['accuracy:min=0.6', { kind: 'accuracy:min', min: 0.6 }],
    ['accuracy:minDelta=-0.01', { kind: 'accuracy:minDelta', delta: -0.01 }],
    ['baseline:minDelta=0.1', { kind: 'baseline:minDelta', delta: 0.1 }],
    ['sliceGap:by=month,max=0.25', { kind: 'sliceGap', by: 'month', max: 0.25, minRows: 20 }],
    ['sliceGap:by=region, max=.3, minRows=50', { kind: 'sliceGap', by: 'region', max: 0.3, minRows: 50 }],
    ['size:maxBytes=1e6', { kind: 'size:maxBytes', max: 1e6 }],
    ['latency:maxMs=5', { kind: 'latency:maxMs', max: 5 }],
  ])('%s', (text, spec) => expect(parseGate(text)).toEqual(spec))

  it.each([
    ['accuracy', 'expected <kind>:<parameters>'],
    ['accuracy:min=1.5', 'min must be a number from 0 to 1'],
    ['accuracy:min=0x1', 'min must be a number'],
    ['accuracy:max=0.5', 'unknown gate'],
    ['sliceGap:max=0.2', 'missing by=<column>'],
    ['sliceGap:by=month,max=0.2,color=red', 'unknown parameter color'],
    ['size:maxBytes=-1', 'maxBytes must be a number'],
    ['latency:maxMs', '"maxMs" is not name=value'],
  ])('refuses %s with bad_request: %s', (text, why) => {
    let error: unknown
    try {
      parseGate(text)
    } catch (e) {
      error = e
    }
    expect(isEdgefleetError(error) && error.code).toBe('bad_request')
    expect((error as Error).message).toContain(`--gate ${text}: ${why}`)
  })
})

describe('evaluateGates', () => {
  const candidate: RunMetrics = {
    accuracy: 0.7,
    logLoss: 0.8,
    perClass: {},
    perSlice: {
      month: { '1': { n: 25, accuracy: 0.9 }, '2': { n: 30, accuracy: 0.6 }, '3': { n: 5, accuracy: 0 } },
    },
    bytes: 400,
    latencyP95Ms: 0.25,
  }
  const champion = { label: 'v3', metrics: { ...candidate, accuracy: 0.65 } }
  const judge = (gates: string[], evidence: object = {}) =>
    evaluateGates(withDefaultGates(gates.map(parseGate)), { candidate, champion, majorityAccuracy: 0.44, ...evidence })

  it('passes gates the candidate meets, each with its value, limit and a line', () => {
    const results = judge([
      'accuracy:min=0.6',
      'accuracy:minDelta=0',
      'sliceGap:by=month,max=0.3',
      'size:maxBytes=1000',
      'latency:maxMs=1',
    ])
    expect(results.map((r) => [r.gate, r.passed])).toEqual([
      ['baseline:minDelta', true],
      ['accuracy:min', true],
      ['accuracy:minDelta', true],
      ['sliceGap:month', true],
      ['size:maxBytes', true],
      ['latency:maxMs', true],
    ])
    expect(results[0]).toMatchObject({ value: expect.closeTo(0.26, 12), limit: 0.05 })
    expect(results[3]).toMatchObject({ value: expect.closeTo(0.3, 12), limit: 0.3 })
    expect(results[3].message).toBe('accuracy gap 0.300 between month=1 (0.900) and month=2 (0.600) ≤ 0.300')
    expect(rejectionLine(results)).toBeNull()
  })

  it('fails each gate the candidate misses and names it with its numbers in one line', () => {
    const results = judge(['accuracy:min=0.75', 'accuracy:minDelta=0.1', 'size:maxBytes=100', 'latency:maxMs=0.1'])
    expect(results.filter((r) => !r.passed).map((r) => r.gate)).toEqual([
      'accuracy:min',
      'accuracy:minDelta',
      'size:maxBytes',
      'latency:maxMs',
    ])
    expect(rejectionLine(results)).toBe(
      'gate accuracy:min failed: holdout accuracy 0.700 < 0.750; ' +
        'gate accuracy:minDelta failed: accuracy 0.700 vs v3 0.650: +0.050 < +0.100; ' +
        'gate size:maxBytes failed: 400 bytes > 100; ' +
        'gate latency:maxMs failed: p95 latency 0.250 ms > 0.1 ms',
    )
  })

  it('rejects a candidate no better than the majority class by default, and compares with it when there is no champion', () => {
    const results = judge(['accuracy:minDelta=0'], { majorityAccuracy: 0.68, champion: null })
    expect(results[0]).toMatchObject({ gate: 'baseline:minDelta', passed: false, limit: 0.05 })
    expect(results[1].message).toBe('accuracy 0.700 vs the majority-class predictor 0.680: +0.020 ≥ +0.000')
    expect(judge(['baseline:minDelta=0'], { majorityAccuracy: 0.68 })).toHaveLength(1)
  })

  it('fails a slice gap it cannot measure (fewer than two slices with enough rows)', () => {
    const [, gap] = judge(['sliceGap:by=month,max=0.5,minRows=26'])
    expect(gap).toMatchObject({ passed: false, value: null })
    expect(gap.message).toBe('1 slice of "month" with ≥ 26 holdout rows; the gap needs 2')
    expect(judge(['sliceGap:by=region,max=0.5'])[1].passed).toBe(false)
  })
})
