/**
 * @module
 * A tabular ONNX classifier run in onnxruntime-web (WASM, as devices without WebGPU run it) behind
 * the SDK's own featurization and decoding, so the retrainer and `edgefleet validate` judge a model
 * as the fleet will run it, and measure its one-record latency the same way.
 */
import * as ort from 'onnxruntime-web'
import { EdgefleetError } from '../core/errors.ts'
import type { Judged } from '../core/retrain/metrics.ts'
import { categoryKey } from '../core/profile/values.ts'
import { decodeRows } from '../worker/decode.ts'
import { featurize, planFeatures, type FeaturePlan } from '../worker/featurize.ts'
import type { TabularSignature } from './tabular-signature.ts'

// One thread: the machine's cores are shared, and a latency p95 should not depend on a thread pool.
ort.env.wasm.numThreads = 1

/** One prediction: the class and every class's probability. */
export interface Prediction {
  label: string
  scores: Record<string, number>
}

/** An opened classifier; `release` frees its session. */
export interface OnnxClassifier {
  predict(records: readonly Record<string, unknown>[]): Promise<Prediction[]>
  /** p95 in ms of `runs` one-record inferences (featurize, run, decode), after `warmup` unmeasured ones. */
  latencyP95(records: readonly Record<string, unknown>[], runs?: number, warmup?: number): Promise<number>
  release(): Promise<void>
}

/**
 * Opens ONNX bytes with a tabular classes signature. A model whose inputs or outputs do not match
 * the signature is refused with `validation_failed`, as the SDK refuses it.
 *
 * @example const m = await openOnnxClassifier(bytes, signature); const [p] = await m.predict([{ temp_max: 12 }])
 */
export async function openOnnxClassifier(bytes: Uint8Array, signature: TabularSignature): Promise<OnnxClassifier> {
  if (signature.output.kind !== 'classes')
    throw new EdgefleetError('validation_failed', 'the signature is not a classifier (output kind "classes")')
  let session: ort.InferenceSession
  try {
    session = await ort.InferenceSession.create(bytes)
  } catch (e) {
    throw new EdgefleetError('validation_failed', `not a model onnxruntime-web can load: ${(e as Error).message}`, {
      cause: e,
    })
  }
  const input = signature.input?.name ?? session.inputNames[0]
  const output = signature.output.name ?? session.outputNames[0]
  if (!session.inputNames.includes(input))
    throw new EdgefleetError('validation_failed', `the signature's input "${input}" is not an input of the model`)
  if (!session.outputNames.includes(output))
    throw new EdgefleetError('validation_failed', `the signature's output "${output}" is not an output of the model`)
  const plan: FeaturePlan = planFeatures(signature)
  const spec = signature.output

  async function predict(records: readonly Record<string, unknown>[]): Promise<Prediction[]> {
    if (records.length === 0) return []
    const x = new ort.Tensor('float32', featurize(plan, records as Record<string, unknown>[]), [
      records.length,
      plan.width,
    ])
    const result = await session.run({ [input]: x })
    const out = result[output]
    const decoded = decodeRows(
      spec,
      { dtype: 'float32', dims: [...out.dims], data: out.data as Float32Array },
      records.length,
      output,
    )
    return decoded.map((d) => {
      if (d.kind !== 'classes') throw new EdgefleetError('validation_failed', 'the model did not return classes')
      return { label: d.label, scores: d.scores }
    })
  }

  return {
    predict,
    async latencyP95(records, runs = 200, warmup = 20) {
      if (records.length === 0) throw new EdgefleetError('empty_data', 'no rows to time')
      const times: number[] = []
      for (let i = 0; i < warmup + runs; i++) {
        const t0 = performance.now()
        await predict([records[i % records.length]])
        if (i >= warmup) times.push(performance.now() - t0)
      }
      times.sort((a, b) => a - b)
      return times[Math.min(times.length - 1, Math.ceil(0.95 * times.length) - 1)]
    },
    release: () => session.release(),
  }
}

/** Predictions judged against the records' labels (rows without a label must be left out before). */
export function judge(
  predictions: readonly Prediction[],
  records: readonly Record<string, unknown>[],
  label: string,
): Judged[] {
  return predictions.map((p, i) => {
    const truth = categoryKey(records[i][label]) ?? ''
    return { truth, predicted: p.label, pTruth: p.scores[truth] ?? 0 }
  })
}
