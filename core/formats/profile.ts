import * as z from 'zod'
import { Calibration } from './calibration.ts'
import { Count } from './common.ts'

/**
 * `profile/1`: the reference distribution of a model version's inputs and outputs, built from its
 * training data (`edgefleet profile`) and binned against by every device, so fleet histograms are
 * exact sums of counts.
 *
 * Numeric: sorted unique `edges` (inner quantile edges); bins are right-open `[e_i, e_{i+1})` with an
 * underflow bin `(-inf, e_0)` first and an overflow bin `[e_last, +inf)` last, so
 * `counts.length === edges.length + 1`. Categorical: the top-K `categories`, then `__other__`, so
 * `counts.length === categories.length + 1`. `missing` counts null, NaN and wrong-typed values;
 * `n` counts the rest (`n === sum(counts)`). A classifier's profile built with labels also carries
 * `calibration` (core/formats/calibration.ts), from which devices estimate accuracy without labels.
 */
export const PROFILE_VERSION = 1
export const OTHER_CATEGORY = '__other__'

const finite = z.number().refine(Number.isFinite, 'a finite number')

export const NumericProfile = z
  .strictObject({
    type: z.literal('numeric'),
    edges: z.array(finite).max(1000),
    counts: z.array(Count),
    n: Count,
    missing: Count,
    mean: finite,
    std: z.number().nonnegative(),
    min: finite,
    max: finite,
  })
  .superRefine((p, ctx) => {
    for (let i = 1; i < p.edges.length; i++) {
      if (!(p.edges[i] > p.edges[i - 1])) {
        ctx.addIssue({ code: 'custom', message: 'edges must be strictly increasing', path: ['edges', i] })
        return
      }
    }
    if (p.min > p.max) ctx.addIssue({ code: 'custom', message: 'min must not exceed max', path: ['min'] })
    if (p.counts.length !== p.edges.length + 1)
      ctx.addIssue({ code: 'custom', message: 'counts must have edges.length + 1 entries', path: ['counts'] })
    else if (p.counts.reduce((a, b) => a + b, 0) !== p.n)
      ctx.addIssue({ code: 'custom', message: 'counts must sum to n', path: ['n'] })
  })
export type NumericProfile = z.infer<typeof NumericProfile>

export const CategoricalProfile = z
  .strictObject({
    type: z.literal('categorical'),
    categories: z.array(z.string().max(256)).max(1000),
    counts: z.array(Count),
    n: Count,
    missing: Count,
  })
  .superRefine((p, ctx) => {
    if (new Set(p.categories).size !== p.categories.length)
      ctx.addIssue({ code: 'custom', message: 'categories must be unique', path: ['categories'] })
    if (p.categories.includes(OTHER_CATEGORY))
      ctx.addIssue({ code: 'custom', message: `${OTHER_CATEGORY} is implicit, not listed`, path: ['categories'] })
    if (p.counts.length !== p.categories.length + 1)
      ctx.addIssue({
        code: 'custom',
        message: 'counts must have categories.length + 1 entries (the last is __other__)',
        path: ['counts'],
      })
    else if (p.counts.reduce((a, b) => a + b, 0) !== p.n)
      ctx.addIssue({ code: 'custom', message: 'counts must sum to n', path: ['n'] })
  })
export type CategoricalProfile = z.infer<typeof CategoricalProfile>

// Discriminated, so a wrong `type` is reported at `/features/<name>/type`, not at the whole feature.
export const FeatureProfile = z.discriminatedUnion('type', [NumericProfile, CategoricalProfile])
export type FeatureProfile = z.infer<typeof FeatureProfile>

/** The name of a profiled feature or output; telemetry reports key their histograms by it. */
export const FeatureKey = z.string().min(1).max(160)

/** A whole `profile/1` document. */
export const Profile = z.strictObject({
  v: z.literal(PROFILE_VERSION),
  rows: Count,
  features: z.record(FeatureKey, FeatureProfile),
  outputs: z.record(FeatureKey, FeatureProfile).default({}),
  /** A classifier's calibration map of its top score (optional: profiles built without labels have none). */
  calibration: Calibration.optional(),
})
export type Profile = z.infer<typeof Profile>
