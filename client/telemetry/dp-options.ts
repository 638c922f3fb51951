/**
 * @module
 * The options of local differential privacy (dp.ts), checked when the fleet is created: small enough to
 * stay in the SDK's entry, while the noise and the ledger load with telemetry.
 */
import { EdgefleetError } from '../../core/errors.ts'

/**
 * Local differential privacy on the histograms of a report (dp.ts has the mechanism and its proof).
 * Off unless the app sets `telemetry: {dp}`.
 */
export interface DpOptions {
  /** ε of one report (all its histograms together), in (0, 100]. */
  epsilon: number
  /** ε a device may spend per UTC day, across models and tabs (default 10 ε: ten reports with histograms). */
  dailyBudget?: number
  /** C: values each histogram keeps per report (default 1). */
  clip?: number
}

/** Values a histogram keeps per report unless `clip` says otherwise. */
export const DEFAULT_DP_CLIP = 1
/** Reports with histograms per UTC day when `dailyBudget` is not set (as a multiple of ε). */
export const DEFAULT_DP_REPORTS_PER_DAY = 10

/** Checks DP options and fills in the defaults; `bad_request` with a pointer under `/telemetry/dp`. */
export function resolveDp(dp: DpOptions): Required<DpOptions> {
  const bad = (message: string, field: string) =>
    new EdgefleetError('bad_request', message, { pointer: `/telemetry/dp/${field}` })
  if (typeof dp?.epsilon !== 'number' || !(dp.epsilon > 0 && dp.epsilon <= 100))
    throw bad('dp.epsilon must be a number in (0, 100]', 'epsilon')
  const clip = dp.clip ?? DEFAULT_DP_CLIP
  if (!Number.isSafeInteger(clip) || clip < 1) throw bad('dp.clip must be a positive integer', 'clip')
  const dailyBudget = dp.dailyBudget ?? DEFAULT_DP_REPORTS_PER_DAY * dp.epsilon
  if (typeof dailyBudget !== 'number' || !(dailyBudget >= dp.epsilon) || !Number.isFinite(dailyBudget))
    throw bad('dp.dailyBudget must be a finite number ≥ dp.epsilon', 'dailyBudget')
  return { epsilon: dp.epsilon, clip, dailyBudget }
}
