/**
 * @module Calibrated confidence of a classifier, summed on the device: the top class score of every
 * prediction is looked up in the version's calibration map (core/estimate/calibration.ts) and the
 * count, Σp and Σp² accumulate until the next `collect()`, which telemetry turns into the report's
 * `calibrated`. No score, class or input outlives the call that looked it up.
 */
import { calibratedConfidence } from '../core/estimate/confidence.ts'
import { emptyCalibrated, observeConfidence } from '../core/estimate/estimated-accuracy.ts'
import type { Calibration } from '../core/formats/calibration.ts'
import type { CalibratedSums } from '../core/formats/calibrated.ts'
import type { ModelOutput } from './protocol.ts'

/** Calibrated-confidence sums of one loaded classifier since the previous collect. */
export class CalibrationCounter {
  readonly #calibration: Calibration
  #sums: CalibratedSums = emptyCalibrated()

  constructor(calibration: Calibration) {
    this.#calibration = calibration
  }

  /** Looks up the top score of each class output; other outputs and scores outside [0, 1] are skipped. */
  observe(outputs: readonly ModelOutput[]): void {
    for (const out of outputs) {
      if (out.kind !== 'classes') continue
      const p = calibratedConfidence(this.#calibration, out.scores[out.label])
      if (p !== undefined) observeConfidence(this.#sums, p)
    }
  }

  /** The sums since the previous collect; starts the next delta. */
  collect(): CalibratedSums {
    const out = this.#sums
    this.#sums = emptyCalibrated()
    return out
  }
}
