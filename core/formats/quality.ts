import * as z from 'zod'

import { Count } from './common.ts'

/**
 * Data-quality counts for one input feature over one window (telemetry/1, `quality`): how many rows
 * carried the feature, and how many of those values were missing, not finite, of the wrong type, out
 * of range or an unknown category. Each value is classified into at most one problem, so the five
 * counts sum to at most `rows`; only counts leave a device.
 */
export const FeatureQuality = z
  .strictObject({
    rows: Count,
    missing: Count,
    nonFinite: Count,
    wrongType: Count,
    outOfRange: Count,
    unknownCategory: Count,
  })
  .refine((q) => q.missing + q.nonFinite + q.wrongType + q.outOfRange + q.unknownCategory <= q.rows, {
    message: 'problem counts must not exceed rows',
    path: ['rows'],
  })
export type FeatureQuality = z.infer<typeof FeatureQuality>
