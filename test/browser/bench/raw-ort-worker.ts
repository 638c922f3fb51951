/**
 * The overhead benchmark's baseline: onnxruntime-web used directly inside a module Worker, the same
 * build and runtime files as the inference worker, plus an echo to price a comlink round trip.
 */
import { expose } from 'comlink'
import type * as Ort from 'onnxruntime-web'
import type { TensorData } from '../../../worker/protocol.ts'
import * as ort from 'onnxruntime-web/wasm'

let session: Ort.InferenceSession | undefined

const api = {
  async init(model: ArrayBuffer, mjs: ArrayBuffer, wasm: ArrayBuffer): Promise<void> {
    ort.env.wasm.wasmPaths = { mjs: URL.createObjectURL(new Blob([mjs], { type: 'text/javascript' })) }
    ort.env.wasm.wasmBinary = wasm
    ort.env.wasm.proxy = false
    session = await ort.InferenceSession.create(new Uint8Array(model), {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    })
  },
  /** Mean milliseconds of `n` sequential runs (tensors built per run, as an app would). */
  async runLoop(n: number, feeds: Record<string, TensorData>): Promise<number> {
    const start = performance.now()
    for (let i = 0; i < n; i++) {
      const tensors: Record<string, Ort.Tensor> = {}
      for (const [name, t] of Object.entries(feeds)) tensors[name] = new ort.Tensor(t.dtype, t.data, t.dims)
      await session!.run(tensors)
    }
    return (performance.now() - start) / n
  },
  /** One run per call: what a minimal worker wrapper around ORT costs end to end. */
  async runOnce(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    const tensors: Record<string, Ort.Tensor> = {}
    for (const [name, t] of Object.entries(feeds)) tensors[name] = new ort.Tensor(t.dtype, t.data, t.dims)
    const out = await session!.run(tensors)
    const result: Record<string, TensorData> = {}
    for (const [name, t] of Object.entries(out))
      result[name] = { dtype: t.type as TensorData['dtype'], dims: [...t.dims], data: t.data as TensorData['data'] }
    return result
  },
  echo<T>(payload: T): T {
    return payload
  },
}

export type RawOrtWorker = typeof api
expose(api)
