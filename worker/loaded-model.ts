import type { Backend } from '../core/formats/common.ts'
import { DDSketch } from '../core/sketch/DDSketch.ts'
import type { DriftMonitor } from './drift-monitor.ts'
import type { Engine } from './engines/engine.ts'
import { FallbackEngine } from './engines/fallback-engine.ts'
import type { BackendChange, DriftReport, ModelInput, PredictResult, StatsDelta } from './protocol.ts'
import type { CompareOptions, ShadowStats } from './shadow-compare.ts'
import type { TabularIo } from './tabular-io.ts'
import type { TensorIo } from './tensor-io.ts'

/** Identity of a loaded model, as the load request gave it. */
export interface ModelIdentity {
  key: string
  model: string
  version: number
}

/**
 * One loaded model: its engine, how inputs and outputs are shaped (tabular or tensor), its drift
 * monitor, and the counters and latency sketch telemetry collects.
 */
export class LoadedModel {
  #latency = new DDSketch()
  #inferences = 0
  #errors = 0
  #collectedAt: number

  constructor(
    readonly id: ModelIdentity,
    readonly engine: Engine,
    private readonly io: { kind: 'tabular'; io: TabularIo } | { kind: 'tensor'; io: TensorIo },
    private readonly monitor: DriftMonitor | undefined,
    loadedAt: number,
    /** Present for a model loaded as a shadow: its comparisons with the primary, and how to compare. */
    readonly shadow?: { stats: ShadowStats; compare: CompareOptions },
  ) {
    this.#collectedAt = loadedAt
  }

  get backend(): Backend {
    return this.engine.backend
  }

  /** Where the model runs since it left its load's backend (a lost WebGPU device); undefined before. */
  get backendChange(): BackendChange | undefined {
    return this.engine instanceof FallbackEngine ? this.engine.change : undefined
  }

  /**
   * Predicts every input; a failure counts as one inference and one error per input (an attempt that
   * failed, so errors never exceed inferences in a report: telemetry/1's bound) and rejects the whole call.
   */
  async predict(inputs: readonly ModelInput[], now: number, pointer: (i: number) => string): Promise<PredictResult[]> {
    try {
      let results: PredictResult[]
      if (this.io.kind === 'tabular') {
        const { outputs, ms } = await this.io.io.run(inputs, now)
        this.#latency.add(ms)
        results = outputs.map((output) => ({ output, ms }))
      } else {
        const { outputs, ms } = await this.io.io.run(inputs, now, pointer)
        for (const m of ms) this.#latency.add(m)
        results = outputs.map((output, i) => ({ output, ms: ms[i] }))
      }
      this.#inferences += inputs.length
      const backendChange = this.backendChange
      return backendChange === undefined ? results : results.map((r) => ({ ...r, backendChange }))
    } catch (e) {
      this.#inferences += inputs.length
      this.#errors += inputs.length
      throw e
    }
  }

  /** Local drift over the monitor's window ending at `now`; empty without a profile. */
  drift(now: number): DriftReport {
    const { key, model, version } = this.id
    if (this.monitor === undefined)
      return { key, model, version, window: { start: now, end: now }, features: {}, outputs: {}, drifted: [] }
    return { key, model, version, ...this.monitor.report(now) }
  }

  /** Everything counted since the previous collect; starts the next delta. */
  collect(now: number): StatsDelta {
    const histograms = this.monitor?.collect() ?? { features: {}, outputs: {} }
    const delta: StatsDelta = {
      key: this.id.key,
      window: { start: this.#collectedAt, end: now },
      inferences: this.#inferences,
      errors: this.#errors,
      latency: this.#latency.toJSON(),
      ...histograms,
    }
    if (this.shadow !== undefined) delta.shadow = this.shadow.stats.take()
    if (this.io.kind === 'tabular') {
      const quality = this.io.io.collectQuality()
      if (Object.keys(quality).length > 0) delta.quality = quality
      const calibrated = this.io.io.collectCalibrated()
      if (calibrated !== undefined && calibrated.count > 0) delta.calibrated = calibrated
    }
    this.#latency = new DDSketch()
    this.#inferences = 0
    this.#errors = 0
    this.#collectedAt = now
    return delta
  }

  dispose(): Promise<void> {
    return this.engine.dispose()
  }
}
