import { describe, expect, it } from 'vitest'
import { calibratedConfidence, calibrationVariance, fitCalibration, isOnGrid } from '../../core/estimate/calibration.ts'
import {
  emptyCalibrated,
  estimatedAccuracy,
  mergeCalibrated,
  observeConfidence,
} from '../../core/estimate/estimated-accuracy.ts'
import { CalibratedSums } from '../../core/formats/calibrated.ts'
import { Calibration } from '../../core/formats/calibration.ts'
import { Condition } from '../../core/formats/policy.ts'
import { EstimatedAccuracyGuardrail, RolloutStats, RolloutStep } from '../../core/formats/rollout.ts'
import { Report } from '../../core/formats/telemetry.ts'
import { judgeGuardrail } from '../../core/rollout/decide.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import file from '../vectors/calibration.json'

type Sums = { count: number; sum: number; sumSq: number }
type Fitted = { edges: number[]; counts: number[]; correct: number[] }

/** Every permutation of a short list. */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]]
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((p) => [x, ...p]))
}

const report = (inferences: number, calibrated: unknown) => ({
  model: 'weather',
  version: 1,
  role: 'primary',
  window: { start: 1_700_000_040_000, end: 1_700_000_100_000 },
  backend: 'wasm',
  counts: { inferences, errors: 0, cacheHits: 0, loads: 0 },
  loadMs: new DDSketch().toJSON(),
  latency: new DDSketch().toJSON(),
  calibrated,
})

function armWith(calibrated: Sums | null) {
  return {
    devices: 100,
    inferences: 100_000,
    perDevice: [{ inferences: 1000, errors: 0, fallbacks: 0, compared: 0, agreed: 0, labeled: 0, correct: 0 }],
    latency: null,
    driftJsMax: null,
    ...(calibrated === null ? {} : { calibrated }),
  }
}

describe('label-free accuracy estimation (golden vectors)', () => {
  it.each(file.fit as [string, [number, boolean][], number, Fitted][])('fits %s', (_name, data, bins, expected) => {
    const cal = fitCalibration(
      data.map(([score, correct]) => ({ score, correct })),
      { label: 'y', bins },
    )
    expect({ edges: cal.edges, counts: cal.counts, correct: cal.correct }).toStrictEqual(expected)
    expect(Calibration.safeParse(cal).success).toBe(true)
  })

  const cal = Calibration.parse(file.calibration)
  it.each(file.lookup as [string, number, number][])('looks up %s', (_name, score, p) => {
    expect(calibratedConfidence(cal, score)).toBe(p)
    expect(isOnGrid(p)).toBe(true)
  })

  it("the map's own variance", () => {
    expect(calibrationVariance(cal)).toBeCloseTo(file.calibrationVariance, 15)
  })

  it('calibrated sums merge exactly, the same in every order', () => {
    const [parts, total] = file.merge as [Sums[], Sums]
    for (const order of permutations(parts))
      expect(order.reduce((a, b) => mergeCalibrated(a, b), emptyCalibrated())).toStrictEqual(total)
    for (const p of [...parts, total]) expect(CalibratedSums.safeParse(p).success).toBe(true)
  })

  it('observing grid confidences one by one gives the same sums', () => {
    const s = emptyCalibrated()
    for (const [, score] of file.lookup as [string, number, number][])
      observeConfidence(s, calibratedConfidence(cal, score)!)
    expect(CalibratedSums.safeParse(s).success).toBe(true)
    expect(s.count).toBe(file.lookup.length)
  })

  it.each(file.estimate as [string, Sums, number, ReturnType<typeof estimatedAccuracy>][])(
    'estimates %s',
    (_name, sums, variance, expected) => {
      const e = estimatedAccuracy(sums, variance)
      if (expected === null) return expect(e).toBeNull()
      expect(e!.n).toBe(expected.n)
      for (const k of ['value', 'low', 'high'] as const) expect(e![k]).toBeCloseTo(expected[k], 12)
    },
  )

  it.each(file.report as [string, unknown, number, string | null][])(
    'telemetry/1 calibrated: %s',
    (_name, calibrated, inferences, refusal) => {
      const parsed = Report.safeParse(report(inferences, calibrated))
      expect(parsed.success).toBe(refusal === null)
      if (refusal !== null && refusal !== 'invalid')
        expect(parsed.error?.issues.map((i) => (i as { params?: { reason?: string } }).params?.reason)).toContain(
          refusal,
        )
    },
  )

  it.each(file.guardrail as [string, Sums | null, Sums, number, string, number | null][])(
    'estimated_accuracy guardrail: %s',
    (_name, baseline, candidate, minRatio, status, value) => {
      const g = EstimatedAccuracyGuardrail.parse({ metric: 'estimated_accuracy', minRatio })
      const stats = RolloutStats.parse({ baseline: armWith(baseline), candidate: armWith(candidate) })
      const step = RolloutStep.parse({ percent: 10, minMinutes: 1, minDevices: 1, minInferences: 1 })
      const r = judgeGuardrail(g, stats, step, 0.05)
      expect(r.status === 'not_judged' ? r.reason : r.status).toBe(status)
      if (value === null) expect(r.value).toBeNull()
      else expect(r.value).toBeCloseTo(value, 12)
    },
  )

  it.each(file.guardrails as [string, unknown, unknown][])('guardrail format: %s', (_name, input, parsed) => {
    const r = EstimatedAccuracyGuardrail.safeParse(input)
    if (parsed === null) expect(r.success).toBe(false)
    else expect(r.data).toStrictEqual(parsed)
  })

  it.each(file.conditions as [string, unknown, unknown][])('estimatedAccuracyBelow: %s', (_name, input, parsed) => {
    const r = Condition.safeParse(input)
    if (parsed === null) expect(r.success).toBe(false)
    else expect(r.data).toStrictEqual(parsed)
  })
})
