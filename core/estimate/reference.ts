/**
 * @module A calibration map from labelled reference records that carry the model's own outputs (its
 * predicted class and top score, as `edgefleet profile --label` reads them), pure.
 */
import { EdgefleetError } from '../errors.ts'
import type { Calibration } from '../formats/calibration.ts'
import { categoryKey } from '../profile/values.ts'
import { fitCalibration, type ScoredOutcome } from './calibration.ts'

/** Which columns of a reference record hold the truth, the prediction and its top score. */
export interface ReferenceColumns {
  label: string
  prediction: string
  score: string
  bins?: number
}

/**
 * Fits the calibration map of reference records: a row is correct when its prediction equals its
 * label (compared as category keys, so `1` and `"1"` agree). Rows without a label are left out (no
 * truth to calibrate on); a row with a label but no prediction, or a score that is not a number in
 * [0, 1], is `validation_failed` naming its row. Throws `empty_data` when no row has a label.
 *
 * @example calibrationFromRecords(rows, { label: 'weather', prediction: 'predicted', score: 'confidence' })
 */
export function calibrationFromRecords(
  records: readonly Record<string, unknown>[],
  columns: ReferenceColumns,
): Calibration {
  const outcomes: ScoredOutcome[] = []
  records.forEach((r, i) => {
    const label = categoryKey(r[columns.label])
    if (label === undefined) return
    const predicted = categoryKey(r[columns.prediction])
    const score = r[columns.score]
    if (predicted === undefined)
      throw new EdgefleetError('validation_failed', `row ${i + 1}: no prediction in "${columns.prediction}"`)
    if (typeof score !== 'number' || !(score >= 0 && score <= 1))
      throw new EdgefleetError('validation_failed', `row ${i + 1}: "${columns.score}" must be a number in [0, 1]`)
    outcomes.push({ score, correct: predicted === label })
  })
  if (outcomes.length === 0)
    throw new EdgefleetError('empty_data', `no row has a label in "${columns.label}" to calibrate on`)
  return fitCalibration(outcomes, { label: columns.label, bins: columns.bins })
}
