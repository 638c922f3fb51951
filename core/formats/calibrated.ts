import * as z from 'zod'
import { Count } from './common.ts'

/** Calibrated confidences are multiples of 2^-20 (core/estimate/calibration.ts), so are their sums. */
const GRID = 2 ** 20
const onGrid = (x: number) => Number.isInteger(x * GRID)

/**
 * telemetry/1 `calibrated`: over one window, how many predictions were looked up in the version's
 * calibration map (`count`), the sum of their calibrated confidences P(correct) (`sum`) and of their
 * squares (`sumSq`). Numbers only, no score or class leaves a device. Each confidence is in [0, 1]
 * and on the 2^-20 grid, so `0 ≤ sumSq ≤ sum ≤ count`, both sums are multiples of 2^-20, and sums of
 * them are exact in any order.
 */
export const CalibratedSums = z
  .strictObject({
    count: Count,
    sum: z.number().nonnegative().refine(Number.isFinite, 'a finite number').refine(onGrid, 'a multiple of 2^-20'),
    sumSq: z.number().nonnegative().refine(Number.isFinite, 'a finite number').refine(onGrid, 'a multiple of 2^-20'),
  })
  .refine((c) => c.sum <= c.count, { message: 'sum must not exceed count', path: ['sum'] })
  .refine((c) => c.sumSq <= c.sum, { message: 'sumSq must not exceed sum', path: ['sumSq'] })
export type CalibratedSums = z.infer<typeof CalibratedSums>

/** `estimatedAccuracy` of the fleet view: the mean calibrated confidence and its 95% interval. */
export const EstimatedAccuracy = z
  .object({
    /** Predictions looked up in the calibration map. */
    n: Count,
    value: z.number().min(0).max(1),
    low: z.number().min(0).max(1),
    high: z.number().min(0).max(1),
  })
  .nullable()
export type EstimatedAccuracy = z.infer<typeof EstimatedAccuracy>
