import { describe, expect, it } from 'vitest'
import { onGrid } from '../../../core/estimate/calibration.ts'
import { Calibration } from '../../../core/formats/calibration.ts'
import { Report } from '../../../core/formats/telemetry.ts'
import { DDSketch } from '../../../core/sketch/DDSketch.ts'
import { privatizeReport, withoutHistograms } from '../../../client/telemetry/dp.ts'
import { ReportBuilder } from '../../../client/telemetry/report-builder.ts'
import { CalibrationCounter } from '../../../worker/calibration-counter.ts'
import { seededRandom } from '../../../scripts/lib/random.ts'

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0)
const MAP = Calibration.parse({ method: 'histogram-pav', label: 'y', edges: [0.6], counts: [3, 4], correct: [1, 3] })
const classes = (label: string, scores: Record<string, number>) => ({ kind: 'classes' as const, label, scores })

describe('CalibrationCounter', () => {
  it("sums the calibrated confidence of each class output's top score; nothing of the output is kept", () => {
    const c = new CalibrationCounter(MAP)
    c.observe([
      classes('go', { go: 0.9, stay: 0.1 }), // 0.75
      classes('stay', { go: 0.45, stay: 0.55 }), // 1/3
      classes('go', { go: 0.6, stay: 0.4 }), // 0.75: the edge belongs to the upper bin
      { kind: 'regression', value: 3 } as never, // not a class output
      classes('go', { go: Number.NaN }), // no score to look up
    ])
    const third = onGrid(1 / 3)
    expect(c.collect()).toEqual({
      count: 3,
      sum: 0.75 + third + 0.75,
      sumSq: 0.5625 + onGrid(third * third) + 0.5625,
    })
    expect(c.collect()).toEqual({ count: 0, sum: 0, sumSq: 0 })
  })
})

describe('ReportBuilder and calibrated sums', () => {
  const target = { model: 'weather', version: 3, role: 'primary' as const, backend: 'wasm' as const, fallbacks: {} }
  const delta = (calibrated: unknown, inferences = 5) => ({
    key: 'k',
    window: { start: T0, end: T0 + 60_000 },
    inferences,
    errors: 0,
    latency: new DDSketch().toJSON(),
    features: {},
    outputs: {},
    calibrated: calibrated as never,
  })

  it('adds the sums of one window into a valid telemetry/1 calibrated, copying only the three numbers', () => {
    const b = new ReportBuilder()
    b.track('k', target)
    b.add(delta({ count: 4, sum: 2.5, sumSq: 1.75 }))
    b.add(delta({ count: 5, sum: 3, sumSq: 2, score: 0.93 }))
    const [report] = b.drain()
    expect(report?.calibrated).toEqual({ count: 9, sum: 5.5, sumSq: 3.75 })
    expect(Report.safeParse(report).success).toBe(true)
  })

  it('leaves out whole a delta whose sums break their relations, and calibrated out of every report under local DP', () => {
    const b = new ReportBuilder()
    b.track('k', target)
    for (const bad of [
      { count: 6, sum: 1, sumSq: 1 }, // more than the delta's inferences
      { count: 2, sum: 3, sumSq: 1 }, // sum over count
      { count: 2, sum: 1, sumSq: 1.5 }, // sumSq over sum
      { count: 2, sum: 0.1, sumSq: 0 }, // off the grid
      { count: 2, sum: '1', sumSq: 0 },
    ])
      b.add(delta(bad))
    const [plain] = b.drain()
    expect(plain).not.toHaveProperty('calibrated')

    b.add(delta({ count: 2, sum: 1.5, sumSq: 1.125 }))
    const [withSums] = b.drain()
    expect(withSums).toHaveProperty('calibrated')
    expect(withoutHistograms(withSums!)).not.toHaveProperty('calibrated')
    expect(privatizeReport(withSums!, { epsilon: 1, clip: 10 }, seededRandom(7))).not.toHaveProperty('calibrated')
  })
})
