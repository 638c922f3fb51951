/**
 * @module
 * What an app passes to `fleet.huggingFace(model, options)` and gets back, and the part of
 * transformers.js's `env` edgefleet sets. The SDK never imports transformers.js: the app hands over
 * its own `env`, so the page runs exactly one transformers.js and one onnxruntime-web, the app's.
 */
import type { Backend } from '../../core/formats/common.ts'
import type { HfDtype } from '../../core/formats/hf.ts'
import type { Progress } from '../download.ts'

/** A cache with the Web Cache API's `match` and `put`, as transformers.js's `env.customCache` takes it. */
export interface TransformersCache {
  match(request: string | Request): Promise<Response | undefined>
  put(request: string | Request, response: Response): Promise<void>
}

/** The fields of transformers.js's `env` (`import { env } from '@huggingface/transformers'`) edgefleet sets. */
export interface TransformersEnv {
  remoteHost: string
  remotePathTemplate: string
  allowRemoteModels: boolean
  useCustomCache: boolean
  customCache: unknown
  fetch: (input: string | URL, init?: RequestInit) => Promise<Response>
  backends: { onnx: { wasm?: { wasmPaths?: unknown } } }
}

/** Options of `fleet.huggingFace`. */
export interface HuggingFaceOptions {
  /** transformers.js's `env`: edgefleet points its custom cache at the version's verified files. */
  env: TransformersEnv
  /**
   * Download only the ONNX graphs of these weight types (what the app passes as `dtype` to
   * `pipeline`); default every graph of the version. Config and tokenizer files always come.
   */
  dtype?: HfDtype | HfDtype[]
  /**
   * Where transformers.js's onnxruntime-web finds its wasm (`env.backends.onnx.wasm.wasmPaths`); by
   * default transformers.js fetches it from a CDN, which an offline page cannot reach.
   */
  wasmPaths?: string | { mjs: string; wasm: string }
  /** The device the app gives `pipeline` (`wasm`, `webgpu`), as telemetry files its loads; default `wasm`. */
  device?: Backend
  onProgress?: (progress: Progress) => void
}

/** A Hugging Face model version made available to transformers.js. */
export interface HuggingFaceModel {
  /** The id to pass to `pipeline(task, id)` / `from_pretrained(id)`. */
  id: string
  model: string
  version: number
  /** The version's files served to transformers.js, by path in the folder. */
  files: string[]
  /** Where the assignment came from: the edge, or IndexedDB when the edge was unreachable. */
  assignment: 'edge' | 'cache'
  /** Bytes downloaded for this load (0: every file came from the cache). */
  downloadedBytes: number
  /**
   * The app's pipeline (or any async function that runs this model), counted in telemetry:
   * `const classify = hf.observe(await pipeline('text-classification', hf.id))`. Each call counts one
   * inference per input (an array as first argument is that many inputs), its time (the whole call,
   * tokenizing included) in the latency quantiles, and a rejected call's inputs as errors. Calls,
   * arguments, results and the pipeline's own properties (`dispose()`, `tokenizer`) are left as they are.
   */
  observe<F extends (...args: never[]) => Promise<unknown>>(run: F): F
}
