import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'csv-parse/sync'
import { describe, expect, it } from 'vitest'
import type { FeatureProfile } from '../../core/formats/profile.ts'
import { FeatureQuality } from '../../core/formats/quality.ts'
import { buildProfile } from '../../core/profile/index.ts'
import {
  QUALITY_RANGE_MARGIN,
  acceptedRange,
  classifyValue,
  dataQualityGuardrail,
  emptyQuality,
  mergeQuality,
  mergeQualityMaps,
  observeRow,
  qualityRateAbove,
  qualityView,
} from '../../core/telemetry/index.ts'
import { MAX_COUNT } from '../../core/telemetry/saturating.ts'
import { seededRandom, shuffled } from '../../scripts/lib/random.ts'
import type { Profile } from '../../core/formats/profile.ts'
import { Report } from '../../core/formats/telemetry.ts'
import {
  addReport,
  decodeAggregate,
  emptyAggregate,
  encodeAggregate,
  mergeAggregates,
} from '../../core/telemetry/aggregate.ts'
import type { AggregateJson } from '../../core/telemetry/aggregate.ts'
import { deviceKey } from '../../core/telemetry/device-set.ts'
import { summarize } from '../../core/telemetry/summarize.ts'
import { makeReport, PROFILE } from '../helpers/telemetry.ts'

const seattleCsv = fileURLToPath(new URL('../../node_modules/vega-datasets/data/seattle-weather.csv', import.meta.url))

function seattle(): Record<string, unknown>[] {
  return parse(readFileSync(seattleCsv, 'utf8'), {
    columns: true,
    cast: (v: string) => (v !== '' && !Number.isNaN(Number(v)) ? Number(v) : v),
  })
}

const temp: FeatureProfile = {
  type: 'numeric',
  edges: [5],
  counts: [1, 1],
  n: 2,
  missing: 0,
  mean: 5,
  std: 5,
  min: 0,
  max: 10,
}
const kind: FeatureProfile = { type: 'categorical', categories: ['rain', 'sun'], counts: [1, 1, 0], n: 2, missing: 0 }

describe('classifyValue', () => {
  it('gives each value at most one problem, in the documented order', () => {
    expect(classifyValue(temp, undefined)).toBe('missing')
    expect(classifyValue(temp, null)).toBe('missing')
    expect(classifyValue(temp, '3')).toBe('wrongType')
    expect(classifyValue(temp, NaN)).toBe('nonFinite')
    expect(classifyValue(temp, -Infinity)).toBe('nonFinite')
    expect(classifyValue(temp, 5)).toBeUndefined()
    // [0, 10] widened by 10 % of its width on each side: [-1, 11].
    expect(QUALITY_RANGE_MARGIN).toBe(0.1)
    expect(acceptedRange(temp)).toEqual([-1, 11])
    expect(classifyValue(temp, 11)).toBeUndefined()
    expect(classifyValue(temp, 11.01)).toBe('outOfRange')
    expect(classifyValue(temp, -1.01)).toBe('outOfRange')
    expect(classifyValue(kind, 'rain')).toBeUndefined()
    expect(classifyValue(kind, 'hail')).toBe('unknownCategory')
    expect(classifyValue(kind, 3)).toBe('wrongType')
  })

  it('uses declared bounds instead of the widened reference', () => {
    expect(acceptedRange(temp, { min: 0, max: 10 })).toEqual([0, 10])
    expect(classifyValue(temp, 10.5, { max: 10 })).toBe('outOfRange')
    expect(classifyValue(temp, -0.5, { max: 10 })).toBeUndefined()
  })
})

describe('counts, merges and the view', () => {
  it('counts seattle-weather 2013-2015 against a 2012 reference, with injected faults read back exactly', () => {
    const rows = seattle()
    const reference = rows.filter((r) => String(r.date).startsWith('2012'))
    const later = rows.filter((r) => !String(r.date).startsWith('2012')).map((r) => ({ ...r }))
    const { features } = buildProfile(reference, { outputs: ['weather'] })
    delete (features as Record<string, FeatureProfile>).date
    const rand = seededRandom(12)
    const injected = { missing: 0, nonFinite: 0, wrongType: 0 }
    for (const r of later) {
      const u = rand()
      if (u < 0.02) {
        delete r.wind
        injected.missing++
      } else if (u < 0.04) {
        r.wind = NaN
        injected.nonFinite++
      } else if (u < 0.05) {
        r.wind = 'calm'
        injected.wrongType++
      }
    }
    // Expected out-of-range counts from the rule itself, on the untouched values.
    const expectedOut = (name: string): number => {
      const range = acceptedRange(features[name] as FeatureProfile) as [number, number]
      return later.filter(
        (r) =>
          typeof r[name] === 'number' &&
          Number.isFinite(r[name]) &&
          ((r[name] as number) < range[0] || (r[name] as number) > range[1]),
      ).length
    }
    const counts: Record<string, FeatureQuality> = {}
    for (const r of later) observeRow(counts, features, r)
    expect(counts.wind).toEqual({
      rows: later.length,
      ...injected,
      outOfRange: expectedOut('wind'),
      unknownCategory: 0,
    })
    // 2013-2015 had four nights warmer than 2012's widened temp_min range allows.
    expect(counts.temp_min?.outOfRange).toBe(4)
    expect(expectedOut('temp_min')).toBe(4)
    expect(FeatureQuality.safeParse(counts.wind).success).toBe(true)

    const view = qualityView(counts)
    const windRate = (injected.missing + injected.nonFinite + injected.wrongType + expectedOut('wind')) / later.length
    expect(view.features.wind?.rate).toBe(windRate)
    const rates = Object.values(view.features).map((f) => f.rate)
    expect(view.worst?.rate).toBe(Math.max(...rates))
    expect(qualityRateAbove(view, windRate - 1e-9)).toBe(true)
    expect(qualityRateAbove(view, 1)).toBe(false)
  })

  it('merges exactly in any order', () => {
    const rand = seededRandom(7)
    const parts: Record<string, FeatureQuality>[] = []
    const total: Record<string, FeatureQuality> = {}
    const pool: unknown[] = [1, 5, 20, -4, NaN, Infinity, 'x', null, undefined, 'rain', 'hail']
    for (let d = 0; d < 12; d++) {
      const part: Record<string, FeatureQuality> = {}
      for (let i = 0; i < 50; i++) {
        const row = {
          temp: pool[Math.floor(rand() * pool.length)],
          kind: pool[Math.floor(rand() * pool.length)],
        }
        observeRow(part, { temp, kind }, row)
        observeRow(total, { temp, kind }, row)
      }
      parts.push(part)
    }
    for (const seed of [1, 2, 3]) {
      const merged = shuffled(parts, seededRandom(seed)).reduce((a, b) => mergeQualityMaps(a, b), {})
      expect(merged).toEqual(total)
    }
  })

  it('saturates at MAX_COUNT instead of overflowing', () => {
    const big = { ...emptyQuality(), rows: MAX_COUNT, missing: MAX_COUNT }
    expect(mergeQuality(big, big)).toEqual(big)
  })

  it('rejects problem counts above rows', () => {
    const r = FeatureQuality.safeParse({ ...emptyQuality(), rows: 1, missing: 1, nonFinite: 1 })
    expect(r.success).toBe(false)
  })
})

describe('data_quality guardrail', () => {
  const view = (rows: number, bad: number) => qualityView({ f: { ...emptyQuality(), rows, missing: bad } })
  it('compares a candidate with its baseline, or holds an absolute ceiling', () => {
    expect(dataQualityGuardrail(view(100, 6), view(100, 5), 0.02).pass).toBe(true)
    expect(dataQualityGuardrail(view(100, 9), view(100, 5), 0.02)).toMatchObject({
      pass: false,
      code: 'data_quality_rate',
    })
    expect(dataQualityGuardrail(view(100, 2), null, 0.02).pass).toBe(true)
    expect(dataQualityGuardrail(view(100, 3), null, 0.02).pass).toBe(false)
    expect(dataQualityGuardrail(qualityView({}), null, 0).pass).toBe(true)
  })
})

describe('quality in telemetry/1 reports and fleet aggregates', () => {
  it('merges reports of six devices exactly in any order, through storage, into the fleet view', () => {
    const rand = seededRandom(21)
    const features = PROFILE.features as unknown as Record<string, FeatureProfile>
    const pool: unknown[] = [3, 8, 29, 45, -7, NaN, Infinity, '5', null, 'sun', 'rain', 'hail', 2]
    const start = Date.UTC(2026, 0, 1, 12, 0)
    const total: Record<string, FeatureQuality> = {}
    const aggs = []
    for (let d = 0; d < 6; d++) {
      const report = makeReport(rand, { model: 'weather', start, inferences: 30 })
      const quality: Record<string, FeatureQuality> = {}
      for (let i = 0; i < 30; i++) {
        const row = Object.fromEntries(Object.keys(features).map((k) => [k, pool[Math.floor(rand() * pool.length)]]))
        observeRow(quality, features, row)
        observeRow(total, features, row)
      }
      const parsed = Report.parse({ ...report, quality })
      expect(parsed.quality).toEqual(quality)
      aggs.push(addReport(emptyAggregate(), parsed, deviceKey(`device-${d}`)))
    }
    for (const seed of [1, 2, 3]) {
      const merged = mergeAggregates(shuffled(aggs, seededRandom(seed)))
      const stored = decodeAggregate(JSON.parse(JSON.stringify(encodeAggregate(merged))) as AggregateJson)
      expect(stored.quality).toEqual(total)
      const view = summarize(stored, PROFILE as unknown as Profile, { minDevices: 5 })
      expect(view.suppressed).toBe(false)
      expect((view as { quality?: unknown }).quality).toEqual(qualityView(total))
    }
    expect(total.weather?.unknownCategory).toBeGreaterThan(0)
    expect(total.wind?.outOfRange).toBeGreaterThan(0)
  })

  it('keeps stored aggregates without quality as they were', () => {
    const agg = addReport(emptyAggregate(), makeReport(seededRandom(3), { model: 'weather', start: 0 }), deviceKey('d'))
    expect('quality' in encodeAggregate(agg)).toBe(false)
    expect('quality' in (summarize(agg, null, { minDevices: 1 }) as object)).toBe(false)
  })

  it('refuses more quality rows than the window can hold', () => {
    const report = makeReport(seededRandom(4), { model: 'weather', start: 0 })
    const quality = { wind: { ...emptyQuality(), rows: 60_000_001 } }
    const r = Report.safeParse({ ...report, quality })
    expect(r.success).toBe(false)
    expect(r.error?.issues[0]?.path).toEqual(['quality', 'wind', 'rows'])
  })
})
