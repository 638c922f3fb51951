import * as z from 'zod'
import { Count } from './common.ts'

/**
 * A classifier's calibration map (an optional field of `profile/1`, `calibration`): how often the
 * model was right on labelled reference data, per bin of its top class score. Bins are right-open
 * `[e_i, e_{i+1})` on the sorted inner `edges`, with an underflow bin first and an overflow bin last,
 * so `counts.length === correct.length === edges.length + 1`; every bin holds at least one reference
 * prediction and the accuracies `correct / counts` never decrease from bin to bin (core/estimate/calibration.ts).
 */
export const CALIBRATION_METHOD = 'histogram-pav'

const unit = z.number().min(0).max(1)

export const Calibration = z
  .strictObject({
    method: z.literal(CALIBRATION_METHOD),
    /** The label column the map was fitted against (documentation only: devices never see labels). */
    label: z.string().min(1).max(160),
    edges: z.array(unit).max(100),
    counts: z.array(Count.min(1)).min(1).max(101),
    correct: z.array(Count).min(1).max(101),
  })
  .superRefine((c, ctx) => {
    const fail = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message })
    for (let i = 1; i < c.edges.length; i++)
      if (!(c.edges[i] > c.edges[i - 1])) return fail(['edges', i], 'edges must be strictly increasing')
    if (c.counts.length !== c.edges.length + 1) return fail(['counts'], 'counts must have edges.length + 1 entries')
    if (c.correct.length !== c.counts.length) return fail(['correct'], 'correct must have one entry per bin')
    for (let i = 0; i < c.counts.length; i++) {
      if (c.correct[i] > c.counts[i]) return fail(['correct', i], 'correct must not exceed the bin count')
      if (i > 0 && c.correct[i] * c.counts[i - 1] < c.correct[i - 1] * c.counts[i])
        return fail(['correct', i], 'bin accuracies must not decrease')
    }
  })
export type Calibration = z.infer<typeof Calibration>
