import { describe, expect, it } from 'vitest'
import type { Profile } from '../../../core/formats/profile.ts'
import { Report } from '../../../core/formats/telemetry.ts'
import { DDSketch } from '../../../core/sketch/DDSketch.ts'
import { privatizeReport, withoutHistograms } from '../../../client/telemetry/dp.ts'
import { ReportBuilder } from '../../../client/telemetry/report-builder.ts'
import { QualityCounter } from '../../../worker/quality-counter.ts'
import { seededRandom } from '../../../scripts/lib/random.ts'
import { PROFILE } from '../../helpers/telemetry.ts'

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0)
const features = PROFILE.features as unknown as Profile['features']

describe('QualityCounter', () => {
  it('classifies every profiled feature of each record into at most one problem', () => {
    const q = new QualityCounter(features, [])
    q.observe([
      { temp_max: 12, wind: 3, weather: 'sun' },
      { temp_max: Number.NaN, wind: '3', weather: 'snow' },
      { temp_max: 40, weather: 7 },
      { temp_max: null, wind: Infinity, weather: 'rain', extra: 'ignored' },
    ])
    expect(q.collect()).toEqual({
      // temp_max accepts [0 − 3, 30 + 3]: 40 is out of range.
      temp_max: { rows: 4, missing: 1, nonFinite: 1, wrongType: 0, outOfRange: 1, unknownCategory: 0 },
      wind: { rows: 4, missing: 1, nonFinite: 1, wrongType: 1, outOfRange: 0, unknownCategory: 0 },
      weather: { rows: 4, missing: 0, nonFinite: 0, wrongType: 1, outOfRange: 0, unknownCategory: 1 },
    })
  })

  it("uses the signature's declared bounds instead of the widened reference range", () => {
    const q = new QualityCounter(features, [{ name: 'temp_max', type: 'numeric', bounds: { min: -50, max: 60 } }])
    q.observe([{ temp_max: 40, wind: 12, weather: 'sun' }])
    const c = q.collect()
    expect(c.temp_max?.outOfRange).toBe(0) // inside the declared [−50, 60]
    expect(c.wind?.outOfRange).toBe(1) // wind keeps [0 − 0.9, 9 + 0.9]
  })

  it('collect returns the counts since the previous collect', () => {
    const q = new QualityCounter(features, [])
    q.observe([{ temp_max: 1, wind: 1, weather: 'sun' }])
    expect(q.collect().temp_max?.rows).toBe(1)
    expect(q.collect()).toEqual({})
  })
})

describe('ReportBuilder and data quality', () => {
  const target = { model: 'weather', version: 3, role: 'primary' as const, backend: 'wasm' as const, fallbacks: {} }
  const delta = (quality: unknown, start = T0) => ({
    key: 'k',
    window: { start, end: start + 60_000 },
    inferences: 5,
    errors: 0,
    latency: new DDSketch().toJSON(),
    features: {},
    outputs: {},
    quality: quality as never,
  })

  it('sums the counts of deltas of one window into a valid telemetry/1 quality, copying only counts', () => {
    const b = new ReportBuilder()
    b.track('k', target)
    b.add(delta({ temp_max: { rows: 5, missing: 1, nonFinite: 0, wrongType: 0, outOfRange: 2, unknownCategory: 0 } }))
    b.add(
      delta({
        temp_max: { rows: 5, missing: 0, nonFinite: 1, wrongType: 0, outOfRange: 0, unknownCategory: 0, raw: 'x' },
        weather: { rows: 5, missing: 0, nonFinite: 0, wrongType: 0, outOfRange: 0, unknownCategory: 9 },
      }),
    )
    const [report] = b.drain()
    expect(report?.quality).toEqual({
      temp_max: { rows: 10, missing: 1, nonFinite: 1, wrongType: 0, outOfRange: 2, unknownCategory: 0 },
      // A problem count beyond its rows is cut to the rows, so the report stays within its bound.
      weather: { rows: 5, missing: 0, nonFinite: 0, wrongType: 0, outOfRange: 0, unknownCategory: 5 },
    })
    expect(Report.safeParse(report).success).toBe(true)
  })

  it('leaves quality out of a report without counts, and out of every report under local DP', () => {
    const b = new ReportBuilder()
    b.track('k', target)
    b.add(delta(undefined))
    const [plain] = b.drain()
    expect(plain).not.toHaveProperty('quality')

    b.add(delta({ wind: { rows: 5, missing: 5, nonFinite: 0, wrongType: 0, outOfRange: 0, unknownCategory: 0 } }))
    const [withQuality] = b.drain()
    expect(withQuality).toHaveProperty('quality')
    expect(withoutHistograms(withQuality!)).not.toHaveProperty('quality')
    expect(privatizeReport(withQuality!, { epsilon: 1, clip: 10 }, seededRandom(7))).not.toHaveProperty('quality')
  })
})
