import { EdgefleetError } from '../core/errors.ts'
import type { FeatureQuality } from '../core/formats/quality.ts'
import { decodeRows } from './decode.ts'
import type { DriftMonitor } from './drift-monitor.ts'
import type { Engine } from './engines/engine.ts'
import { featurize, planFeatures, type FeaturePlan, type TabularSignature } from './featurize.ts'
import type { ModelInput, ModelOutput } from './protocol.ts'
import type { QualityCounter } from './quality-counter.ts'
import type { CalibrationCounter } from './calibration-counter.ts'
import type { CalibratedSums } from '../core/formats/calibrated.ts'

/** The name profiles give the top class score of a classifier's outputs. */
export const CONFIDENCE = 'confidence'

/**
 * Records in, decoded outputs out, for a model with a tabular signature: a batch of records is
 * featurized into one `[batch, width]` tensor and runs once. With a monitor, every profiled input
 * feature is binned from the records, and the outputs as the profile names them: the predicted class
 * (categorical) or the regression value (numeric) under the output's name — `signature.output.name`
 * if the profile holds it, else the profile's only other output of that type — and the top score
 * under `confidence`. With a quality counter, every record predicted on is classified per profiled
 * input feature (missing, wrong type, non-finite, out of range, unknown category). With a calibration
 * counter, every class output's top score is looked up in the version's calibration map and summed.
 */
export class TabularIo {
  readonly #plan: FeaturePlan
  readonly #input: string
  readonly #output: string
  readonly #features: { name: string; channel: number }[] = []
  readonly #predicted: number = -1
  readonly #confidence: number = -1

  constructor(
    private readonly signature: TabularSignature,
    private readonly engine: Engine,
    private readonly monitor: DriftMonitor | undefined,
    private readonly counters: { quality?: QualityCounter; calibration?: CalibrationCounter } = {},
  ) {
    this.#plan = planFeatures(signature)
    const input = signature.input?.name ?? engine.inputs[0]?.name
    if (input === undefined || !engine.inputs.some((i) => i.name === input))
      throw new EdgefleetError(
        'validation_failed',
        `the signature's input "${input}" is not an input of the model (${engine.inputs.map((i) => i.name).join(', ')})`,
        { pointer: '/signature/input/name' },
      )
    this.#input = input
    const output = signature.output.name ?? engine.outputs[0]?.name
    if (output === undefined || !engine.outputs.some((o) => o.name === output))
      throw new EdgefleetError(
        'validation_failed',
        `the signature's output "${output}" is not an output of the model (${engine.outputs.map((o) => o.name).join(', ')})`,
        { pointer: '/signature/output/name' },
      )
    this.#output = output
    if (monitor === undefined) return
    for (const { name } of monitor.names('features'))
      this.#features.push({ name, channel: monitor.channel('features', name) })
    const type = signature.output.kind === 'classes' ? 'categorical' : 'numeric'
    const named = signature.output.name
    const candidates = monitor.names('outputs').filter((o) => o.type === type && o.name !== CONFIDENCE)
    const chosen =
      named !== undefined && candidates.some((o) => o.name === named)
        ? named
        : candidates.length === 1
          ? candidates[0].name
          : undefined
    if (chosen !== undefined) this.#predicted = monitor.channel('outputs', chosen)
    if (signature.output.kind === 'classes') this.#confidence = monitor.channel('outputs', CONFIDENCE)
  }

  /** Runs the records as one batch; `ms` is the engine's time for the whole batch. */
  async run(records: readonly ModelInput[], now: number): Promise<{ outputs: ModelOutput[]; ms: number }> {
    const data = featurize(this.#plan, records)
    const feeds = { [this.#input]: { dtype: 'float32' as const, dims: [records.length, this.#plan.width], data } }
    const start = performance.now()
    const result = await this.engine.run(feeds)
    const ms = performance.now() - start
    const tensor = result[this.#output]
    if (tensor === undefined)
      throw new EdgefleetError('validation_failed', `the model returned no output "${this.#output}"`)
    const outputs = decodeRows(this.signature.output, tensor, records.length, this.#output)
    if (this.monitor !== undefined) this.#record(this.monitor, records, outputs, now)
    this.counters.quality?.observe(records)
    this.counters.calibration?.observe(outputs)
    return { outputs, ms }
  }

  /** Data-quality counts since the previous call; empty without a profile. */
  collectQuality(): Record<string, FeatureQuality> {
    return this.counters.quality?.collect() ?? {}
  }

  /** Calibrated-confidence sums since the previous call; undefined without a calibration map. */
  collectCalibrated(): CalibratedSums | undefined {
    return this.counters.calibration?.collect()
  }

  #record(monitor: DriftMonitor, records: readonly ModelInput[], outputs: readonly ModelOutput[], now: number): void {
    monitor.at(now)
    for (let r = 0; r < records.length; r++) {
      const record = records[r]
      for (const f of this.#features) monitor.add(f.channel, record[f.name])
      const out = outputs[r]
      if (out.kind === 'classes') {
        monitor.add(this.#predicted, out.label)
        monitor.add(this.#confidence, out.scores[out.label])
      } else if (out.kind === 'regression') {
        monitor.add(this.#predicted, out.value)
      }
    }
  }
}
