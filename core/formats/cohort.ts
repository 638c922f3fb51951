/**
 * @module
 * Cohorts: an allow-list of labels a model declares (a store, a region, an app locale) so an app can
 * tell the edge which cohort a device belongs to, and rollouts and pins can be aimed at cohorts. A
 * label outside the allow-list is treated as no cohort, so free text never reaches storage.
 *
 * ```json
 * {"name": "store", "values": ["store-0001", "store-0002", "region:eu-west"]}
 * ```
 */
import * as z from 'zod'
import { COHORT_LABEL_PATTERN } from '../cohort-label.ts'
import { EpochMs } from './common.ts'

/** Most labels one model's allow-list holds (the 5,000 stores of the seed fit twice over). */
export const MAX_COHORT_LABELS = 10_000

export { COHORT_LABEL_PATTERN }

/** One cohort label: 1 to 64 of `[A-Za-z0-9_.:-]`. */
export const CohortLabel = z
  .string()
  .regex(COHORT_LABEL_PATTERN, 'a cohort label of [A-Za-z0-9_.:-], 1 to 64 characters')

/** `PUT /v1/models/:model/cohorts`: what the labels name, and the labels (unique, at most 10,000). */
export const CohortAllowList = z.strictObject({
  /** What the labels are: `store`, `region`, `locale`. */
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/, 'a name of [a-z0-9_-], 1 to 32 characters'),
  values: z
    .array(CohortLabel)
    .max(MAX_COHORT_LABELS)
    .refine((vs) => new Set(vs).size === vs.length, 'labels must be unique'),
})
export type CohortAllowList = z.infer<typeof CohortAllowList>

/** `PUT /v1/models/:model/cohorts/:cohort/pin`: the version the cohort stays on. */
export const PinCohort = z.strictObject({ version: z.number().int().positive() })

/** One pin: a cohort held on a version whatever `production` points at. */
export const CohortPin = z.object({
  cohort: CohortLabel,
  version: z.number().int().positive(),
  pinnedAt: EpochMs,
  pinnedBy: z.string(),
})
export type CohortPin = z.infer<typeof CohortPin>

/** `GET /v1/models/:model/cohorts`: the allow-list (empty when none is declared) and its pins. */
export const CohortsView = z.object({
  model: z.string(),
  name: z.string(),
  values: z.array(CohortLabel),
  pins: z.array(CohortPin),
  updatedAt: EpochMs.nullable(),
  updatedBy: z.string().nullable(),
})
export type CohortsView = z.infer<typeof CohortsView>

/** The label a device sent, when it is in the allow-list; anything else is no cohort (never an error for the device). */
export function acceptedCohort(sent: string | undefined, allowed: ReadonlySet<string>): string | null {
  return sent !== undefined && allowed.has(sent) ? sent : null
}
