import { describe, expect, it } from 'vitest'
import { Condition } from '../../core/formats/policy.ts'
import { FeatureProfile } from '../../core/formats/profile.ts'
import { FeatureQuality } from '../../core/formats/quality.ts'
import { DataQualityGuardrail } from '../../core/formats/rollout.ts'
import { jsonPointer } from '../../core/json-pointer.ts'
import {
  classifyValue,
  dataQualityGuardrail,
  emptyQuality,
  mergeQuality,
  mergeQualityMaps,
  observeRow,
  qualityRateAbove,
  qualityView,
  type DeclaredBounds,
} from '../../core/telemetry/quality.ts'
import file from '../vectors/quality.json'

type Counts = Record<string, FeatureQuality>
const profiles = Object.fromEntries(Object.entries(file.profiles).map(([k, p]) => [k, FeatureProfile.parse(p)]))

/** Values JSON cannot hold are written `{"$": "NaN" | "Infinity" | "-Infinity" | "undefined"}`. */
function decode(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || !('$' in v)) return v
  const special: Record<string, unknown> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity, undefined }
  return special[(v as { $: string }).$]
}

const decodeRow = (row: Record<string, unknown>) => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(row)) out[k] = decode(v)
  return out
}

/** Every permutation of a short list. */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]]
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((p) => [x, ...p]))
}

describe('data quality (golden vectors)', () => {
  it('has vectors for every problem and both feature types', () => {
    const problems = new Set(file.classify.map((c) => c[4]))
    for (const p of [null, 'missing', 'nonFinite', 'wrongType', 'outOfRange', 'unknownCategory'])
      expect(problems.has(p)).toBe(true)
  })

  it.each(file.classify as [string, string, unknown, DeclaredBounds | null, string | null][])(
    'classifies %s',
    (_name, feature, value, declared, problem) => {
      expect(classifyValue(profiles[feature]!, decode(value), declared ?? undefined) ?? null).toBe(problem)
    },
  )

  it.each(file.rows as [string, Record<string, unknown>[], Record<string, DeclaredBounds>, Counts][])(
    'counts rows: %s',
    (_name, rows, declared, expected) => {
      const counts: Counts = {}
      for (const row of rows) observeRow(counts, profiles, decodeRow(row), declared)
      expect(counts).toStrictEqual(expected)
      for (const q of Object.values(counts)) expect(FeatureQuality.safeParse(q).success).toBe(true)
    },
  )

  it.each(file.merge as [string, FeatureQuality[], FeatureQuality][])(
    'merges %s, the same in every order',
    (_name, parts, sum) => {
      for (const order of permutations(parts))
        expect(order.reduce((a, b) => mergeQuality(a, b), emptyQuality())).toStrictEqual(sum)
    },
  )

  it.each(file.mergeMaps as [string, Counts, Counts, Counts][])('merges maps: %s', (_name, a, b, merged) => {
    const before = JSON.stringify([a, b])
    expect(mergeQualityMaps(a, b)).toStrictEqual(merged)
    expect(mergeQualityMaps(b, a)).toStrictEqual(merged)
    expect(JSON.stringify([a, b])).toBe(before)
  })

  it.each(file.view as [string, Counts, unknown][])('views %s', (_name, counts, view) => {
    expect(qualityView(counts)).toStrictEqual(view)
  })

  it.each(file.guardrail as [string, Counts, Counts | null, number, unknown][])(
    'guardrail: %s',
    (_name, candidate, baseline, maxRate, verdict) => {
      const b = baseline === null ? null : qualityView(baseline)
      expect(dataQualityGuardrail(qualityView(candidate), b, maxRate)).toStrictEqual(verdict)
    },
  )

  it.each(file.rateAbove as [string, Counts, number, boolean][])('qualityRateAbove: %s', (_name, c, t, above) => {
    expect(qualityRateAbove(qualityView(c), t)).toBe(above)
  })

  it.each(file.format as [string, unknown, string | null][])('FeatureQuality: %s', (_name, value, pointer) => {
    const result = FeatureQuality.safeParse(value)
    if (pointer === null) {
      expect(result.success).toBe(true)
      expect(result.data).toStrictEqual(value)
    } else {
      expect(result.success).toBe(false)
      expect(jsonPointer(result.error!.issues[0]!.path)).toBe(pointer)
    }
  })

  it.each(file.guardrails as [string, unknown, unknown, string | null][])(
    'rollout/1 data_quality guardrail: %s',
    (_name, value, parsed, pointer) => {
      const result = DataQualityGuardrail.safeParse(value)
      if (pointer === null) expect(result.data).toStrictEqual(parsed)
      else expect(jsonPointer(result.error!.issues[0]!.path)).toBe(pointer)
    },
  )

  it.each(file.conditions as [string, unknown, unknown, string | null][])(
    'qualityRateAbove condition: %s',
    (_name, value, parsed, pointer) => {
      const result = Condition.safeParse(value)
      if (pointer === null) expect(result.data).toStrictEqual(parsed)
      else expect(jsonPointer(result.error!.issues[0]!.path)).toBe(pointer)
    },
  )
})
