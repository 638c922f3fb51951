/**
 * @module
 * The counts of a model that runs outside edgefleet's worker (a Hugging Face model, run by the app's
 * transformers.js): what the page observes of its calls, handed to telemetry as the worker's
 * `StatsDelta` would be, with no histograms (edgefleet never sees the inputs or outputs).
 */
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import type { StatsDelta } from '../../worker/protocol.ts'

export class WorkerlessCounter {
  #start: number
  #inferences = 0
  #errors = 0
  #latency = new DDSketch()

  constructor(start: number) {
    this.#start = start
  }

  /** A call that ran `count` inputs in `ms` milliseconds. */
  ran(count: number, ms: number): void {
    this.#inferences += count
    if (count > 0 && Number.isFinite(ms) && ms >= 0) this.#latency.add(ms)
  }

  /** A call of `count` inputs that failed: attempts and errors both, so errors never exceed inferences. */
  failed(count: number): void {
    this.#inferences += count
    this.#errors += count
  }

  /** What was counted since the previous take (or the start), ending at `now`; the counts start again. */
  take(key: string, now: number): StatsDelta {
    const delta: StatsDelta = {
      key,
      window: { start: this.#start, end: now },
      inferences: this.#inferences,
      errors: this.#errors,
      latency: this.#latency.toJSON(),
      features: {},
      outputs: {},
    }
    this.#start = now
    this.#inferences = 0
    this.#errors = 0
    this.#latency = new DDSketch()
    return delta
  }
}
