import type { RolloutConfig } from '../formats/rollout.ts'
import { chi2Sf } from '../stats/chi2.ts'

/** p-value below which the split is called a sample-ratio mismatch (DESIGN: 0.001). */
export const SRM_PVALUE = 0.001

/** The outcome of the sample-ratio check; `reason` says why it was or was not judged. */
export interface SrmResult {
  srm: boolean
  reason: 'too_early' | 'no_devices' | 'single_arm' | 'srm' | 'balanced'
  observed: { baseline: number; candidate: number }
  /** Expected candidate share among targeted devices. */
  expectedShare: number
  statistic: number | null
  pvalue: number | null
  /** When the check starts counting: step start + ttlSeconds + one evaluation window. */
  judgedFrom: number
}

/**
 * Sample-ratio mismatch on exact distinct-device counts per arm within the current step: Pearson's
 * chi-squared goodness of fit, statistic Σ (O − E)² / E over the two arms with E = N·share,
 * 1 degree of freedom, p = chi2Sf(statistic, 1) (Fabijan et al., "Diagnosing Sample Ratio Mismatch
 * in Online Controlled Experiments", KDD 2019). The expected candidate share is the step's percent
 * (for `ab`, its one step is the fixed split) among **targeted** devices: untargeted devices never
 * carry the rollout, so they are in neither count. Judged only from `stepStartedAt + ttlSeconds +
 * evaluationSeconds`: before then devices still hold the previous step's assignment, or have not
 * reported their first window. A step at 100% expects no baseline device: nothing to test.
 *
 * @example sampleRatio(config, 2, stepStartedAt, { baseline: 950, candidate: 50 }, now)
 */
export function sampleRatio(
  config: Pick<RolloutConfig, 'steps' | 'ttlSeconds' | 'evaluationSeconds'>,
  step: number,
  stepStartedAt: number,
  observed: { baseline: number; candidate: number },
  now: number,
): SrmResult {
  const expectedShare = config.steps[step].percent / 100
  const judgedFrom = stepStartedAt + (config.ttlSeconds + config.evaluationSeconds) * 1000
  const base = { observed: { ...observed }, expectedShare, judgedFrom, statistic: null, pvalue: null, srm: false }
  if (now < judgedFrom) return { ...base, reason: 'too_early' }
  const n = observed.baseline + observed.candidate
  if (n === 0) return { ...base, reason: 'no_devices' }
  if (expectedShare >= 1) return { ...base, reason: 'single_arm' }
  const eCand = n * expectedShare
  const eBase = n - eCand
  const statistic = (observed.candidate - eCand) ** 2 / eCand + (observed.baseline - eBase) ** 2 / eBase
  const pvalue = chi2Sf(statistic, 1)
  const srm = pvalue < SRM_PVALUE
  return { ...base, statistic, pvalue, srm, reason: srm ? 'srm' : 'balanced' }
}
