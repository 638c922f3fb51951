import { EdgefleetError } from '../core/errors.ts'
import type { Signature } from '../core/formats/signature.ts'
import type { ModelOutput, TensorData } from '../worker/protocol.ts'
import type { ReportTarget } from './telemetry/report-builder.ts'

/** How many of the page's most recent predictions `fleet.feedback(id, label)` can refer to. */
export const PREDICTION_LOG_SIZE = 1000
/**
 * Older predictions are forgotten: their report window must still be inside the edge's 48 h horizon
 * when the batch arrives, or the whole batch would be refused as `too_old`.
 */
export const PREDICTION_MAX_AGE_MS = 24 * 3_600_000

/** What the main thread remembers of one prediction, for feedback. Never sent anywhere. */
export interface LoggedPrediction {
  /** The report the prediction was counted in; absent when that version's telemetry is not reported (off, or sampled out). */
  target?: ReportTarget
  /** When the prediction was made (ms): its report window. */
  at: number
  /** The class the output decodes to; absent for outputs without classes (regression, unlabeled tensors). */
  predicted?: string
  /** Feedback was given already: a second one for the same id is not counted. */
  answered: boolean
}

/**
 * What `fleet.feedback` did: `recorded` (counted in the prediction's report), `duplicate` (this id had
 * feedback already; counted once), `no_class` (the output has no class to compare with: regression,
 * unlabeled tensors), `not_reported` (that version's telemetry is off or sampled out on this device).
 */
export interface FeedbackResult {
  value: boolean
  reason: 'recorded' | 'duplicate' | 'no_class' | 'not_reported'
}

/** A feedback decision, with where to count it when it is `recorded`. */
export type FeedbackVerdict = FeedbackResult & { count?: { target: ReportTarget; at: number; correct: boolean } }

/**
 * The page's last PREDICTION_LOG_SIZE predictions by id, the oldest evicted first (a Map keeps
 * insertion order, so eviction is O(1)); entries older than PREDICTION_MAX_AGE_MS are treated as gone.
 *
 * @example
 * const log = new PredictionLog()
 * log.remember('p_1', { at: Date.now(), predicted: 'sun', answered: false })
 * log.get('p_1', Date.now())?.predicted // 'sun'
 */
export class PredictionLog {
  readonly #entries = new Map<string, LoggedPrediction>()

  constructor(
    readonly capacity = PREDICTION_LOG_SIZE,
    readonly maxAgeMs = PREDICTION_MAX_AGE_MS,
  ) {}

  /** Remembers a prediction, forgetting the oldest beyond the capacity. */
  remember(id: string, entry: LoggedPrediction): void {
    this.#entries.set(id, entry)
    if (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value!)
  }

  /** The prediction with this id, unless it was evicted or is older than the maximum age at `now`. */
  get(id: string, now: number): LoggedPrediction | undefined {
    const entry = this.#entries.get(id)
    if (entry === undefined) return undefined
    if (now - entry.at > this.maxAgeMs) {
      this.#entries.delete(id)
      return undefined
    }
    return entry
  }

  /**
   * Judges feedback on a prediction: whether (and where) it counts, and whether the label matched the
   * predicted class. Marks the prediction answered, so the same id never counts twice. An id that is
   * unknown, evicted or too old is `not_found`.
   */
  feedback(id: string, label: string, now: number): FeedbackVerdict {
    if (typeof id !== 'string')
      throw new EdgefleetError('bad_request', 'feedback takes the id of a prediction', { pointer: '/id' })
    if (typeof label !== 'string')
      throw new EdgefleetError('bad_request', 'a feedback label is a class label (a string)', { pointer: '/label' })
    const entry = this.get(id, now)
    if (entry === undefined)
      throw new EdgefleetError(
        'not_found',
        `no prediction "${id}" among the last ${this.capacity} of this page within ${this.maxAgeMs / 3_600_000} h: feedback must refer to a recent prediction`,
        { pointer: '/id' },
      )
    if (entry.answered) return { value: false, reason: 'duplicate' }
    entry.answered = true
    if (entry.predicted === undefined) return { value: false, reason: 'no_class' }
    if (entry.target === undefined) return { value: false, reason: 'not_reported' }
    return {
      value: true,
      reason: 'recorded',
      count: { target: entry.target, at: entry.at, correct: label === entry.predicted },
    }
  }

  get size(): number {
    return this.#entries.size
  }
}

/**
 * The class label an output decodes to: a classifier's `label`; for tensor outputs, the label of the
 * highest score of the first output the signature labels (one score per label); none otherwise.
 */
export function predictedClass(output: ModelOutput, signature: Signature | undefined): string | undefined {
  if (output.kind === 'classes') return output.label
  if (output.kind !== 'tensors' || signature?.kind !== 'tensor') return undefined
  for (const spec of signature.outputs) {
    const t = output.tensors[spec.name]
    if (spec.labels === undefined || t === undefined || t.data.length !== spec.labels.length) continue
    const best = argmax(t)
    return best < 0 ? undefined : spec.labels[best]
  }
  return undefined
}

/** Index of the largest element (the first on ties); -1 for float16 (not decoded here) or when a score is NaN. */
function argmax(t: TensorData): number {
  if (t.dtype === 'float16') return -1
  let best = 0
  for (let i = 0; i < t.data.length; i++) {
    const v = Number(t.data[i])
    if (Number.isNaN(v)) return -1
    if (v > Number(t.data[best])) best = i
  }
  return t.data.length === 0 ? -1 : best
}
