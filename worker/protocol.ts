import type { Backend, ModelFormat, Role } from '../core/formats/common.ts'
import type { Profile } from '../core/formats/profile.ts'
import type { FeatureQuality } from '../core/formats/quality.ts'
import type { CalibratedSums } from '../core/formats/calibrated.ts'
import type { Signature } from '../core/formats/signature.ts'
import type { SketchJson } from '../core/formats/sketch.ts'
import type { DriftPolicy } from '../core/drift/policy.ts'
import type { HistogramCounts } from '../core/profile/histogram.ts'

/**
 * The contract between the SDK's main thread (`client/`) and its inference worker (`worker/`),
 * spoken over comlink. The client imports these types only; it never imports worker code.
 */

/** Engine runtime files, verified and cached by the client, handed over as bytes (offline-capable). */
export interface RuntimeAssets {
  /** onnxruntime-web WASM: the `ort-wasm-simd-threaded.mjs` glue and its `.wasm`. */
  ortWasm?: { mjs: ArrayBuffer; wasm: ArrayBuffer }
  /**
   * onnxruntime-web WebGPU (JSEP/asyncify build): glue and `.wasm`, and in the built SDK the build's own
   * JavaScript (`build`, onnxruntime-web/webgpu bundled apart), which the ONNX worker bundle leaves out
   * so that devices without WebGPU never download it.
   */
  ortWebgpu?: { mjs: ArrayBuffer; wasm: ArrayBuffer; build?: string }
  /** tfjs-backend-wasm: the three `.wasm` files by file name. */
  tfjsWasm?: Record<
    'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm',
    ArrayBuffer
  >
}

/** What the worker can see of the device's accelerators. */
export interface WorkerCapabilities {
  webgpu: boolean
  /** The adapter is a software one (e.g. SwiftShader): unavailable unless the app opts in. */
  fallbackAdapter: boolean
  f16: boolean
  /** `navigator.ml` is exposed in the worker (WebNN); whether a context can be made is tried at load. */
  webnn: boolean
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
  /** The WebNN device a `webnn` backend asks for (default `gpu`). */
  webnnDeviceType?: WebnnDeviceType
  /** Rolling drift window: how many of the most recent minutes `drift()` compares. */
  driftWindowMinutes?: number
  /** Thresholds of the local drift verdict; unset ones come from core's DEFAULT_DRIFT_POLICY. */
  driftPolicy?: Partial<DriftPolicy>
  /**
   * Engine runtime files. Needed by the first load that starts an engine (or backend); the worker keeps
   * what it was given, so later loads may omit them. Transfer the buffers: the worker owns them afterwards.
   */
  runtime?: RuntimeAssets
  /**
   * A representative input for the WebGPU golden self-check (tensor models). Default: a seeded input built
   * from the model's input specs (floats uniform in [0, 1), integers 0, dynamic dims 1 for the first axis
   * and 32 for the others), which models with control inputs (Silero's `sr`) may not accept.
   */
  probe?: Record<string, TensorData>
  /**
   * For `role: 'shadow'`: regression and tensor outputs agree with the primary's when
   * |primary − shadow| ≤ shadowTolerance · max(1, |primary|) (default 0.01; shadow-compare.ts).
   */
  shadowTolerance?: number
  /**
   * The TensorFlow.js engine module's source (`worker/engines/tfjs.ts` bundled on its own), for the
   * first tfjs load of a worker: the ONNX worker never carries TensorFlow.js. Absent, the worker imports
   * the engine from its own module graph (unbundled runs, tests).
   */
  tfjsEngine?: string
}

/** Asks the worker to run a loaded shadow model on a prediction's input(s) once it is idle, and compare. */
export interface ShadowRun {
  /** The shadow model's key (loaded with `role: 'shadow'`). */
  key: string
  /** For `predictBatch`: the indices of the inputs to run (default all). */
  rows?: number[]
}

/** Why a backend was skipped: a stable code, safe for telemetry's `fallbacks` (`[a-z0-9_]`). */
export type BackendSkipReason =
  | 'not_available'
  | 'fallback_adapter'
  | 'webgpu_mismatch'
  /** WebNN's output disagreed with the CPU reference on the golden self-check. */
  | 'webnn_mismatch'
  | 'missing_runtime'
  | 'unsupported'
  | 'init_failed'
  | 'create_failed'
  /** The WebGPU device was lost while the model ran on it (destroyed, driver reset): the worker moved it on. */
  | 'device_lost'

/** The device a WebNN context runs on (`navigator.ml.createContext({deviceType})`). */
export type WebnnDeviceType = 'cpu' | 'gpu' | 'npu'

/** Outcome of the WebGPU golden self-check: WebGPU against a CPU reference (ORT's wasm provider, tfjs cpu) on one probe input. */
export interface SelfCheck {
  passed: boolean
  /** Largest |webgpu − reference| of the worst output, and the bound it was held to (see engines/self-check.ts). */
  maxAbsDiff: number
  tolerance: number
  /** The output where the largest difference was seen. */
  output: string
}

export interface LoadResult {
  key: string
  backend: Backend
  /** Why each backend before the one that ran was skipped, e.g. `{webgpu: 'fallback_adapter'}`. */
  fallbacks: Partial<Record<Backend, BackendSkipReason>>
  /** The same with detail for people, e.g. `{webgpu: 'not_available: requestAdapter() returned null'}`. */
  fallbackDetails: Partial<Record<Backend, string>>
  /** Present when the model was tried on WebGPU and its self-check ran (also when it failed). */
  selfCheck?: SelfCheck
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
  /** Engine time inside the worker, milliseconds (a batch's items share the time of their one run). */
  ms: number
  /** Present once the model runs on another backend than the one its load reported (its WebGPU device was lost). */
  backendChange?: BackendChange
}

/**
 * Where a loaded model runs now, after it left the backend it was loaded on: every backend skipped so
 * far, the lost one included (`{webgpu: 'device_lost'}`), as in a LoadResult.
 */
export interface BackendChange {
  backend: Backend
  fallbacks: Partial<Record<Backend, BackendSkipReason>>
  fallbackDetails: Partial<Record<Backend, string>>
}

/** What the worker counted for one loaded model since the previous `collect` (delta, for telemetry). */
export interface StatsDelta {
  key: string
  /** `start`: the previous collect (or the load); `end`: this one. Not minute-aligned: the caller cuts windows. */
  window: { start: number; end: number }
  inferences: number
  errors: number
  /** Engine time per run, milliseconds (`sketch/1`). */
  latency: SketchJson
  /** Counts on the profile's bins, keyed as in the profile. */
  features: Record<string, HistogramCounts>
  outputs: Record<string, HistogramCounts>
  /** Data-quality counts per profiled input feature (tabular models with a profile); absent when nothing was predicted. */
  quality?: Record<string, FeatureQuality>
  /** Calibrated-confidence sums of a classifier whose profile has a calibration map; absent when nothing was looked up. */
  calibrated?: CalibratedSums
  /** A shadow model's comparisons with the primary (`absDiffSum` = Σ per-comparison mean |difference|), and runs dropped from a full queue. */
  shadow?: { compared: number; agreed: number; absDiffSum: number; dropped: number }
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
  key: string
  model: string
  version: number
  window: { start: number; end: number }
  features: Record<string, FeatureDrift>
  outputs: Record<string, FeatureDrift>
  /** Names of the features (and outputs, as `output:<name>`) that drifted. */
  drifted: string[]
}

/**
 * The worker's API, exposed with comlink. Errors reject with an EdgefleetError once the client has called
 * `registerErrorTransfer()` from `worker/comlink-errors.ts` (codes: `not_found` unknown key, `conflict` key
 * already loaded, `bad_request` bad input with a `pointer`, `backend_unavailable` with `details.data.reasons`,
 * `validation_failed` model and signature disagree, `internal` anything else).
 */
export interface WorkerApi {
  capabilities(): Promise<WorkerCapabilities>
  load(request: LoadRequest): Promise<LoadResult>
  /**
   * Runs one prediction. With `shadow`, the shadow model also runs on the same input after the answer
   * is sent, when no primary request is pending; its output never leaves the worker (only the counts of
   * its comparisons, in its `collect`). A full shadow queue drops the run and counts it.
   */
  predict(key: string, input: ModelInput, shadow?: ShadowRun): Promise<PredictResult>
  predictBatch(key: string, inputs: ModelInput[], shadow?: ShadowRun): Promise<PredictResult[]>
  /** Resolves once no shadow run is waiting or running. */
  settle(): Promise<void>
  drift(key: string, now?: number): Promise<DriftReport>
  /** Counters, latency sketch and histograms since the previous call (telemetry's source). */
  collect(key: string, now?: number): Promise<StatsDelta>
  /** Releases the model; an unknown key is ignored, so it is safe to call twice. */
  unload(key: string): Promise<void>
}
