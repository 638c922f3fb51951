/** Label-free accuracy estimation: calibration maps of the top score and calibrated-confidence sums. */
export {
  calibratedConfidence,
  calibrationVariance,
  CONFIDENCE_GRID,
  DEFAULT_CALIBRATION_BINS,
  fitCalibration,
  isOnGrid,
  MAX_CALIBRATION_BINS,
  onGrid,
} from './calibration.ts'
export type { ScoredOutcome } from './calibration.ts'
export {
  emptyCalibrated,
  estimatedAccuracy,
  estimatedAccuracyOf,
  mergeCalibrated,
  observeConfidence,
  Z95,
} from './estimated-accuracy.ts'
export { calibrationFromRecords } from './reference.ts'
export type { ReferenceColumns } from './reference.ts'
