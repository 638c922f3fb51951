/**
 * @module
 * What a cohort label may be, with no dependency, so the SDK checks an app's label without bundling
 * the wire schemas (core/formats/cohort.ts builds on it).
 */

/** 1 to 64 of `[A-Za-z0-9_.:-]`: a store id, a region, a locale; never free text. */
export const COHORT_LABEL_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/

/** True for a well-formed cohort label. */
export function isCohortLabel(value: unknown): value is string {
  return typeof value === 'string' && COHORT_LABEL_PATTERN.test(value)
}
