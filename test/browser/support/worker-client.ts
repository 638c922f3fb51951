import { wrap, type Remote } from 'comlink'
import { registerErrorTransfer } from '../../../worker/comlink-errors.ts'
import type { RuntimeAssets, WorkerApi } from '../../../worker/protocol.ts'

/** Test-side plumbing: the worker under test, and files served by Vite from the repo root. */

registerErrorTransfer()

/** A fresh inference worker and its comlink proxy. */
export function startWorker(): { api: Remote<WorkerApi>; worker: Worker } {
  const worker = new Worker(new URL('../../../worker/index.ts', import.meta.url), { type: 'module' })
  return { api: wrap<WorkerApi>(worker), worker }
}

/** The bytes of a file under the repo root (e.g. `/node_modules/...`). */
export async function fetchBytes(path: string): Promise<ArrayBuffer> {
  const response = await fetch(path)
  if (!response.ok) throw new Error(`GET ${path}: ${response.status}`)
  return response.arrayBuffer()
}

const ORT = '/node_modules/onnxruntime-web/dist'
const TFJS_WASM = '/node_modules/@tensorflow/tfjs-backend-wasm/dist'

/** The engine runtime files as the client would hand them over from its cache. */
export async function runtimeAssets(which: {
  ortWasm?: boolean
  ortWebgpu?: boolean
  tfjsWasm?: boolean
}): Promise<RuntimeAssets> {
  const assets: RuntimeAssets = {}
  if (which.ortWasm === true) {
    assets.ortWasm = {
      mjs: await fetchBytes(`${ORT}/ort-wasm-simd-threaded.mjs`),
      wasm: await fetchBytes(`${ORT}/ort-wasm-simd-threaded.wasm`),
    }
  }
  if (which.ortWebgpu === true) {
    assets.ortWebgpu = {
      mjs: await fetchBytes(`${ORT}/ort-wasm-simd-threaded.asyncify.mjs`),
      wasm: await fetchBytes(`${ORT}/ort-wasm-simd-threaded.asyncify.wasm`),
    }
  }
  if (which.tfjsWasm === true) {
    assets.tfjsWasm = {
      'tfjs-backend-wasm.wasm': await fetchBytes(`${TFJS_WASM}/tfjs-backend-wasm.wasm`),
      'tfjs-backend-wasm-simd.wasm': await fetchBytes(`${TFJS_WASM}/tfjs-backend-wasm-simd.wasm`),
      'tfjs-backend-wasm-threaded-simd.wasm': await fetchBytes(`${TFJS_WASM}/tfjs-backend-wasm-threaded-simd.wasm`),
    }
  }
  return assets
}
