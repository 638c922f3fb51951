/**
 * Data quality per input feature, pure (docs/telemetry.md, "Data quality"). A device classifies each
 * value of each profiled feature into at most one problem, in this order: missing (absent, null or
 * undefined), wrong type (not a number for a numeric feature, not a string for a categorical one),
 * non-finite (NaN, ±Infinity), out of range (numeric, outside the declared bounds or the reference's
 * observed [min, max] widened by QUALITY_RANGE_MARGIN of its width on each side), unknown category
 * (categorical, not among the profile's listed categories). Counts merge by saturating addition, so a
 * fleet total is exact and independent of merge order.
 */
import type { FeatureProfile } from '../formats/profile.ts'
import type { FeatureQuality } from '../formats/quality.ts'
import { addCount } from './saturating.ts'

/** The share of the reference's width by which its observed [min, max] is widened on each side. */
export const QUALITY_RANGE_MARGIN = 0.1

export type QualityProblem = 'missing' | 'nonFinite' | 'wrongType' | 'outOfRange' | 'unknownCategory'

export const QUALITY_PROBLEMS: readonly QualityProblem[] = [
  'missing',
  'nonFinite',
  'wrongType',
  'outOfRange',
  'unknownCategory',
]

/** Bounds a model's signature declares for a numeric feature; they replace the widened reference range. */
export interface DeclaredBounds {
  min?: number
  max?: number
}

/** The accepted [lo, hi] of a numeric feature: declared bounds where given, else the widened reference. */
export function acceptedRange(profile: FeatureProfile, declared?: DeclaredBounds): [number, number] | undefined {
  if (profile.type !== 'numeric') return undefined
  const margin = (profile.max - profile.min) * QUALITY_RANGE_MARGIN
  return [declared?.min ?? profile.min - margin, declared?.max ?? profile.max + margin]
}

/** The one problem of a value of a feature, or undefined for a good value. */
export function classifyValue(
  profile: FeatureProfile,
  value: unknown,
  declared?: DeclaredBounds,
): QualityProblem | undefined {
  if (value === undefined || value === null) return 'missing'
  if (profile.type === 'numeric') {
    if (typeof value !== 'number') return 'wrongType'
    if (!Number.isFinite(value)) return 'nonFinite'
    const [lo, hi] = acceptedRange(profile, declared) as [number, number]
    return value < lo || value > hi ? 'outOfRange' : undefined
  }
  if (typeof value !== 'string') return 'wrongType'
  return profile.categories.includes(value) ? undefined : 'unknownCategory'
}

export function emptyQuality(): FeatureQuality {
  return { rows: 0, missing: 0, nonFinite: 0, wrongType: 0, outOfRange: 0, unknownCategory: 0 }
}

/** Adds one row's values to per-feature counts, for every feature of the profile. */
export function observeRow(
  counts: Record<string, FeatureQuality>,
  features: Readonly<Record<string, FeatureProfile>>,
  row: Readonly<Record<string, unknown>>,
  declared: Readonly<Record<string, DeclaredBounds>> = {},
): void {
  for (const [name, profile] of Object.entries(features)) {
    const q = (counts[name] ??= emptyQuality())
    q.rows = addCount(q.rows, 1)
    const value = Object.prototype.hasOwnProperty.call(row, name) ? row[name] : undefined
    const problem = classifyValue(profile, value, declared[name])
    if (problem) q[problem] = addCount(q[problem], 1)
  }
}

/** a + b, field by field, saturating; neither argument changes. */
export function mergeQuality(a: FeatureQuality, b: FeatureQuality): FeatureQuality {
  return {
    rows: addCount(a.rows, b.rows),
    missing: addCount(a.missing, b.missing),
    nonFinite: addCount(a.nonFinite, b.nonFinite),
    wrongType: addCount(a.wrongType, b.wrongType),
    outOfRange: addCount(a.outOfRange, b.outOfRange),
    unknownCategory: addCount(a.unknownCategory, b.unknownCategory),
  }
}

/** Merges per-feature counts of b into a fresh copy of a. */
export function mergeQualityMaps(
  a: Readonly<Record<string, FeatureQuality>>,
  b: Readonly<Record<string, FeatureQuality>>,
): Record<string, FeatureQuality> {
  const out: Record<string, FeatureQuality> = {}
  for (const [k, q] of Object.entries(a)) out[k] = { ...q }
  for (const [k, q] of Object.entries(b)) out[k] = mergeQuality(out[k] ?? emptyQuality(), q)
  return out
}

export interface FeatureQualityView extends FeatureQuality {
  /** Rows with a problem in this feature / rows; 0 without rows. */
  rate: number
}

export interface QualityView {
  features: Record<string, FeatureQualityView>
  /** The feature with the highest rate (ties: the first name in code-unit order), or null without rows. */
  worst: { feature: string; rate: number } | null
}

function problems(q: FeatureQuality): number {
  return q.missing + q.nonFinite + q.wrongType + q.outOfRange + q.unknownCategory
}

/** The fleet view's `quality`: per-feature counts with their rate and the worst feature. */
export function qualityView(counts: Readonly<Record<string, FeatureQuality>>): QualityView {
  const features: Record<string, FeatureQualityView> = {}
  let worst: QualityView['worst'] = null
  for (const name of Object.keys(counts).sort()) {
    const q = counts[name] as FeatureQuality
    const rate = q.rows > 0 ? Math.min(1, problems(q) / q.rows) : 0
    features[name] = { ...q, rate }
    if (q.rows > 0 && (worst === null || rate > worst.rate)) worst = { feature: name, rate }
  }
  return { features, worst }
}

/** Policy condition `qualityRateAbove`: true when the worst feature's rate exceeds the threshold. */
export function qualityRateAbove(view: QualityView, threshold: number): boolean {
  return view.worst !== null && view.worst.rate > threshold
}

export type DataQualityVerdict =
  | { pass: true; candidate: number; baseline: number | null }
  | { pass: false; candidate: number; baseline: number | null; code: 'data_quality_rate' }

/**
 * Guardrail `data_quality:maxRate`. Against a baseline, the candidate's worst rate may exceed the
 * baseline's worst rate by at most maxRate; without a baseline, it may be at most maxRate.
 */
export function dataQualityGuardrail(
  candidate: QualityView,
  baseline: QualityView | null,
  maxRate: number,
): DataQualityVerdict {
  const c = candidate.worst?.rate ?? 0
  const b = baseline ? (baseline.worst?.rate ?? 0) : null
  const pass = b === null ? c <= maxRate : c - b <= maxRate
  return pass
    ? { pass: true, candidate: c, baseline: b }
    : { pass: false, candidate: c, baseline: b, code: 'data_quality_rate' }
}
