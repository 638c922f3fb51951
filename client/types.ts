/**
 * @module
 * The SDK's public types, apart from its implementation (as comlink keeps its protocol): the options
 * of `createFleet` and `fleet.load`, the events an app receives, and the `Fleet` interface. Every part
 * of the client imports them from here, so no two implementation modules import each other for types.
 */
import type { Backend, Role } from '../core/formats/common.ts'
import type { HuggingFaceModel, HuggingFaceOptions } from './hf/types.ts'
export type { HuggingFaceModel, HuggingFaceOptions, TransformersEnv } from './hf/types.ts'
import type { Progress } from './download.ts'
import type { FleetModel } from './model.ts'
import type { FeedbackResult } from './predictions.ts'
import type { DpOptions } from './telemetry/dp-options.ts'

export type { DpOptions } from './telemetry/dp-options.ts'
export type { FeedbackResult } from './predictions.ts'

/** Something the app may want to know about (or log): loads, swaps, fallbacks, offline use, errors. */
export type FleetEvent =
  | {
      type: 'loaded'
      model: string
      /** `shadow`: the shadow version of a shadow-mode rollout, loaded beside the primary. */
      role: Role
      version: number
      backend: Backend
      fallbacks: Partial<Record<Backend, string>>
      /** Where the assignment came from: the edge (200 or 304), or IndexedDB when the edge was unreachable. */
      assignment: 'edge' | 'cache'
      /** Bytes downloaded for this load (0: every file, runtime included, came from the cache). */
      downloadedBytes: number
      /** The version's variant this device runs (docs/variants.md); absent for a version without variants. */
      variant?: string
    }
  | { type: 'swapped'; model: string; from: number; to: number }
  /**
   * A loaded version moved to another backend while running: its WebGPU device was lost, so the worker
   * built it again on the next backend (`fallbacks` then holds `{webgpu: 'device_lost'}`).
   */
  | {
      type: 'fallback'
      model: string
      version: number
      from: Backend
      backend: Backend
      fallbacks: Partial<Record<Backend, string>>
    }
  | { type: 'offline'; model: string; version: number; reason: string }
  /**
   * A variant failed to load here (`reason`: `webgpu_mismatch` when a backend failed its golden
   * self-check, else the error's code), so the device moved to the next variant it fits (`to`; null
   * when none was left). The device remembers it and never tries that variant of that version again.
   * `role` is `shadow` for a shadow-mode candidate's variant (the primary is untouched); absent for
   * the primary.
   */
  | {
      type: 'variant_fallback'
      model: string
      role?: 'shadow'
      version: number
      from: string
      to: string | null
      reason: string
      message: string
    }
  | { type: 'error'; model: string; code: string; message: string; role?: Role }

export interface FleetOptions {
  /** The edge, e.g. `https://models.example.com`. */
  endpoint: string
  /** An app key (a token with the single scope `device`). */
  appKey: string
  /** An app-supplied stable id (hashed before use); by default a random id kept in IndexedDB. */
  deviceId?: string
  /**
   * The device's cohort (a store, a region, a locale): one label of `[A-Za-z0-9_.:-]{1,64}` from the
   * model's allow-list, sent with every assignment request so rollouts and pins can aim at cohorts,
   * and in telemetry batches for the fleet view's `cohort` slice. A label the model does not declare
   * is ignored by the edge. Never sent when not set.
   */
  cohort?: string
  onEvent?: (event: FleetEvent) => void
  /** Where the worker script is; the built SDK carries its own. */
  workerUrl?: string | URL
  /** Base URL of the pinned runtime files, addressed by SHA-256 (default: the edge's artifacts). */
  runtimeUrl?: string
  /** Byte budget of the IndexedDB cache (default 512 MiB). */
  cacheBytes?: number
  /**
   * What a load does when the browser's storage estimate (`navigator.storage.estimate()`) says the files
   * to download cannot be stored, even after evicting what may be evicted: `'fail'` (default) rejects
   * with `quota_exceeded` before a byte is fetched; `'run-from-memory'` downloads anyway and runs the
   * version without an offline copy (downloaded again on every page load).
   */
  whenStorageIsShort?: 'fail' | 'run-from-memory'
  /** Ask the browser to keep the cache through storage pressure (`navigator.storage.persist()`). */
  persist?: boolean
  /** IndexedDB database name (default `edgefleet`). */
  dbName?: string
  fetch?: typeof fetch
  /**
   * Report `telemetry/1` (counts, sketches and profile-bin histograms only) to the edge (default true).
   * `{dp: {epsilon, dailyBudget?, clip?}}` adds Laplace noise to the histograms (local differential
   * privacy, off by default; fleet histograms are then no longer exact: docs/telemetry.md).
   */
  telemetry?: boolean | TelemetryOptions
  /**
   * Publisher keys (PEM `PUBLIC KEY`: ECDSA P-256 as `edgefleet keys create` writes them, or P-384 / P-521). When set,
   * the fleet runs only versions signed by one of them over every file (`edgefleet publish --sign`);
   * any other version is refused with `signature_error` and the last good version keeps running.
   */
  trustedKeys?: readonly string[]
  /**
   * The SDK's random source, uniform in [0, 1): telemetry sampling and DP noise (default: the
   * platform's CSPRNG). Tests pass a seeded generator so runs replay.
   */
  random?: () => number
}

/** Telemetry settings of the fleet. */
export interface TelemetryOptions {
  /** Local differential privacy on histogram counts (see DpOptions); off when absent. */
  dp?: DpOptions
}

export interface LoadOptions {
  onProgress?: (p: Progress) => void
  /** Backends to try, in order (defaults per engine). */
  backends?: Backend[]
  /** Accept a software WebGPU adapter (SwiftShader); off by default. */
  allowFallbackAdapter?: boolean
  /**
   * The device a `webnn` backend asks WebNN for (`cpu`, `gpu` or `npu`; default `gpu`). WebNN is
   * opt-in: name `'webnn'` in `backends` (e.g. `['webnn', 'wasm']`).
   */
  webnnDeviceType?: 'cpu' | 'gpu' | 'npu'
  driftWindowMinutes?: number
  /**
   * A shadow's regression and tensor outputs agree with the primary's when |primary − shadow| ≤
   * shadowTolerance · max(1, |primary|) (default 0.01); classifiers agree on the label.
   */
  shadowTolerance?: number
}

/** The SDK's entry point: one per page. */
export interface Fleet {
  /** The pseudonymous id this device reports under. */
  deviceId(): Promise<string>
  /** Loads a model (last-known-good first, then the edge's assignment), ready to predict. */
  load(model: string, options?: LoadOptions): Promise<FleetModel>
  /**
   * Ground truth for a prediction, for the fleet's accuracy: counts `labeled` and, when `label` is the
   * class the prediction decoded to, `correct` in the report of that prediction's version and minute.
   * The label never leaves the device: only the two counts do. The last 1000 predictions of the page
   * (at most 24 h old) can be given feedback; another id is `not_found`. A second feedback for the
   * same id is not counted (`duplicate`).
   *
   * @example
   * const r = await model.predict(today)
   * fleet.feedback(r.id, 'rain') // { value: true, reason: 'recorded' }
   */
  feedback(predictionId: string, label: string): FeedbackResult
  /**
   * Serves the version of a Hugging Face model (format `hf-onnx`) this device runs to the app's own
   * transformers.js, verified and cached for offline use (docs/huggingface.md).
   *
   * @example
   * import { env, pipeline } from '@huggingface/transformers'
   * const hf = await fleet.huggingFace('tiny-bert', { env, dtype: 'q8' })
   * // observe: its inferences, errors and latency counted in telemetry
   * const classify = hf.observe(await pipeline('text-classification', hf.id, { dtype: 'q8' }))
   */
  huggingFace(model: string, options: HuggingFaceOptions): Promise<HuggingFaceModel>
  /** Sends the telemetry collected so far (no-op with `telemetry: false`). Safe to call twice. */
  flush(): Promise<void>
  /** Stops timers, sends the last telemetry, unloads models, ends the worker. Safe to call twice. */
  close(): Promise<void>
}
