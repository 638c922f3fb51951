import * as ort from 'onnxruntime-web/wasm'
import type { TensorData } from '../../../worker/protocol.ts'

/**
 * Raw onnxruntime-web in the test page, configured the ordinary way (runtime files fetched from
 * node_modules by URL), as the oracle the worker's outputs are compared with.
 */
ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/'
ort.env.wasm.numThreads = 1
ort.env.logLevel = 'error'

/** A plain session on the WASM execution provider. */
export function rawSession(bytes: ArrayBuffer): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(new Uint8Array(bytes), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  })
}

/** `session.run` on protocol tensors, outputs back as protocol tensors. */
export async function rawRun(
  session: ort.InferenceSession,
  feeds: Record<string, TensorData>,
): Promise<Record<string, TensorData>> {
  const tensors: Record<string, ort.Tensor> = {}
  for (const [name, t] of Object.entries(feeds)) tensors[name] = new ort.Tensor(t.dtype, t.data, t.dims)
  const out = await session.run(tensors)
  return Object.fromEntries(
    Object.entries(out).map(([name, t]) => [name, { dtype: t.type, dims: [...t.dims], data: t.data } as TensorData]),
  )
}
