import type { DriftMonitor } from './drift-monitor.ts'
import type { Engine } from './engines/engine.ts'
import type { ModelInput, ModelOutput, TensorData } from './protocol.ts'
import { checkTensorInputs } from './tensor-inputs.ts'
import { sampleCount, SUMMARY_STATS, summarizeSample } from './tensor-summary.ts'

interface Summaries {
  tensor: string
  group: 'features' | 'outputs'
  /** Channels of mean, std, min, max (-1 where the profile lacks one). */
  channels: Int32Array
}

/**
 * Named tensors in, raw tensors out, one engine run per input (tensors are not concatenated: which
 * axis is a batch axis differs per model, e.g. Silero's state is [2, batch, 128]). With a monitor,
 * per-sample summaries `<tensor>.mean/.std/.min/.max` of inputs and outputs are binned where the
 * profile holds them.
 */
export class TensorIo {
  readonly #summaries: Summaries[] = []
  readonly #stats = new Float64Array(4)

  constructor(
    private readonly engine: Engine,
    private readonly monitor: DriftMonitor | undefined,
  ) {
    if (monitor === undefined) return
    const add = (group: 'features' | 'outputs', tensor: string) => {
      const channels = Int32Array.from(SUMMARY_STATS, (stat) => monitor.channel(group, `${tensor}.${stat}`))
      if (channels.some((c) => c >= 0)) this.#summaries.push({ tensor, group, channels })
    }
    for (const i of engine.inputs) add('features', i.name)
    for (const o of engine.outputs) add('outputs', o.name)
  }

  /** Checks and runs each input in turn. */
  async run(
    inputs: readonly ModelInput[],
    now: number,
    pointer: (i: number) => string,
  ): Promise<{ outputs: ModelOutput[]; ms: number[] }> {
    const feeds = inputs.map((input, i) => checkTensorInputs(this.engine.inputs, input, pointer(i)))
    const outputs: ModelOutput[] = []
    const ms: number[] = []
    for (const feed of feeds) {
      const start = performance.now()
      const tensors = await this.engine.run(feed)
      ms.push(performance.now() - start)
      outputs.push({ kind: 'tensors', tensors })
      if (this.monitor !== undefined && this.#summaries.length > 0) this.#record(this.monitor, feed, tensors, now)
    }
    return { outputs, ms }
  }

  #record(
    monitor: DriftMonitor,
    feed: Record<string, TensorData>,
    tensors: Record<string, TensorData>,
    now: number,
  ): void {
    monitor.at(now)
    for (const s of this.#summaries) {
      const t = s.group === 'features' ? feed[s.tensor] : tensors[s.tensor]
      if (t === undefined) continue
      for (let sample = 0, n = sampleCount(t); sample < n; sample++) {
        summarizeSample(t, sample, this.#stats)
        for (let k = 0; k < 4; k++) monitor.add(s.channels[k], this.#stats[k])
      }
    }
  }
}
