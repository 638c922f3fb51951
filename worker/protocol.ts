import type { Backend, ModelFormat, Role } from '../core/formats/common.ts'
import type { Profile } from '../core/formats/profile.ts'
import type { Signature } from '../core/formats/signature.ts'

/**
 * The contract between the SDK's main thread (`client/`) and its inference worker (`worker/`),
 * spoken over comlink. The client imports these types only; it never imports worker code.
 */

/** Engine runtime files, verified and cached by the client, handed over as bytes (offline-capable). */
export interface RuntimeAssets {
  /** onnxruntime-web WASM: the `ort-wasm-simd-threaded.mjs` glue and its `.wasm`. */
  ortWasm?: { mjs: ArrayBuffer; wasm: ArrayBuffer }
  /** onnxruntime-web WebGPU (JSEP/asyncify build): glue and `.wasm`. */
  ortWebgpu?: { mjs: ArrayBuffer; wasm: ArrayBuffer }
  /** tfjs-backend-wasm: the three `.wasm` files by file name. */
  tfjsWasm?: Record<'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm', ArrayBuffer>
}

/** What the worker can see of the device's accelerators. */
export interface WorkerCapabilities {
  webgpu: boolean
  /** The adapter is a software one (e.g. SwiftShader): unavailable unless the app opts in. */
  fallbackAdapter: boolean
  f16: boolean
  cores: number
}

export interface LoadRequest {
  /** Identity of the loaded model inside the worker, e.g. `weather@3#primary`. */
  key: string
  model: string
  version: number
  role: Role
  format: ModelFormat
  /** Model files by path (`model.onnx`, or `model.json` + shards), verified by the client. */
  files: Record<string, ArrayBuffer>
  signature?: Signature
  profile?: Profile
  /** Backends to try, in order. Defaults: onnx `['webgpu', 'wasm']`, tfjs `['webgpu', 'webgl', 'wasm', 'cpu']`. */
  backends?: Backend[]
  /** Use a software WebGPU adapter if that is all there is (off by default). */
  allowFallbackAdapter?: boolean
  /** Rolling drift window: how many of the most recent minutes `drift()` compares. */
  driftWindowMinutes?: number
  runtime: RuntimeAssets
}

export interface LoadResult {
  key: string
  backend: Backend
  /** Why each backend before the one that ran was skipped, e.g. `{webgpu: 'fallback_adapter'}`. */
  fallbacks: Partial<Record<Backend, string>>
  loadMs: number
  inputs: string[]
  outputs: string[]
}

/** A raw tensor crossing the worker boundary. */
export interface TensorData {
  dtype: 'float32' | 'int32' | 'int64' | 'uint8' | 'int8' | 'bool' | 'float16'
  dims: number[]
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array
}

/** Input of one prediction: a tabular record, or named tensors for tensor models. */
export type ModelInput = Record<string, unknown>

/** Output of one prediction: classes with scores, a regression value, or the raw tensors. */
export type ModelOutput =
  | { kind: 'classes'; label: string; scores: Record<string, number> }
  | { kind: 'regression'; value: number }
  | { kind: 'tensors'; tensors: Record<string, TensorData> }

export interface PredictResult {
  output: ModelOutput
  /** Engine time inside the worker, milliseconds. */
  ms: number
}

/** Local drift of one feature (or output) against the reference profile. */
export interface FeatureDrift {
  type: 'numeric' | 'categorical'
  n: number
  missing: number
  psi: number
  js: number
  chi2_p: number
  drifted: boolean
  reason: 'drifted' | 'no_drift' | 'insufficient_data'
}

export interface DriftReport {
  model: string
  version: number
  window: { start: number; end: number }
  features: Record<string, FeatureDrift>
  outputs: Record<string, FeatureDrift>
  /** Names of the features (and outputs, as `output:<name>`) that drifted. */
  drifted: string[]
}

/** The worker's API, exposed with comlink. Errors reject with `{name: 'EdgefleetError', code, message}`. */
export interface WorkerApi {
  capabilities(): Promise<WorkerCapabilities>
  load(request: LoadRequest): Promise<LoadResult>
  predict(key: string, input: ModelInput): Promise<PredictResult>
  predictBatch(key: string, inputs: ModelInput[]): Promise<PredictResult[]>
  drift(key: string, now?: number): Promise<DriftReport>
  unload(key: string): Promise<void>
}
