import type { Backend } from '../../core/formats/common.ts'
import type { BackendSkipReason, SelfCheck, TensorData, WebnnDeviceType } from '../protocol.ts'

/**
 * What every inference engine (onnxruntime-web, TensorFlow.js) offers the runtime, apart from how it
 * does it: run named tensors on the backend it was created for, then dispose.
 */

/** A model input or output as the engine knows it; a `null` dim is dynamic; undefined fields are unknown. */
export interface TensorInfo {
  name: string
  dtype?: TensorData['dtype'] | undefined
  dims?: (number | null)[] | undefined
}

/** One model, ready to run on one backend. */
export interface Engine {
  readonly backend: Backend
  readonly inputs: readonly TensorInfo[]
  readonly outputs: readonly TensorInfo[]
  /** Present when the engine passed the WebGPU golden self-check. */
  readonly selfCheck?: SelfCheck
  /**
   * Present for an engine on a GPU device: resolves, with a detail for people, once that device is lost
   * (destroyed, driver reset). The engine can no longer run; worker/engines/fallback-engine.ts moves on.
   */
  readonly lost?: Promise<string>
  /** Runs once; output buffers belong to the caller (they may be transferred). Calls are serialized per engine. */
  run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>>
  dispose(): Promise<void>
}

/** The verified model files by path, plus what a backend may need to build the engine. */
export interface ModelFiles {
  /** For messages only. */
  name: string
  files: Record<string, ArrayBuffer>
  /** Input for the WebGPU self-check; built from the input specs when absent. */
  probe?: Record<string, TensorData>
  /** The WebNN device a `webnn` backend asks for (default `gpu`). */
  webnnDeviceType?: WebnnDeviceType
}

/**
 * An engine family, split the way backend selection needs it: a per-load availability check, a
 * per-worker backend start (memoised by the selector; an `init_failed` start is never retried), and
 * the per-model creation. Each step throws BackendSkip to pass to the next backend.
 */
export interface EngineFamily {
  readonly name: string
  check(backend: Backend, options: { allowFallbackAdapter: boolean; webnnDeviceType?: WebnnDeviceType }): Promise<void>
  init(backend: Backend): Promise<void>
  create(backend: Backend, model: ModelFiles): Promise<Engine>
}

/** A backend that cannot serve this load, with its reason code and a detail for people. */
export class BackendSkip extends Error {
  override readonly name = 'BackendSkip'
  constructor(
    readonly reason: BackendSkipReason,
    readonly detail: string,
    /** Set when a WebGPU self-check ran and failed. */
    readonly selfCheck?: SelfCheck,
  ) {
    super(`${reason}: ${detail}`)
  }
}

/** Wraps any failure as a BackendSkip with `reason`, keeping an existing BackendSkip as it is. */
export function asSkip(e: unknown, reason: BackendSkipReason): BackendSkip {
  return isBackendSkip(e) ? e : new BackendSkip(reason, e instanceof Error ? e.message : String(e))
}

/**
 * A BackendSkip, also one thrown by an engine bundled apart from this module (the tfjs engine ships as
 * its own module, with its own copy of the class), so it is recognised by name and reason, not identity.
 */
export function isBackendSkip(e: unknown): e is BackendSkip {
  return e instanceof BackendSkip || (e instanceof Error && e.name === 'BackendSkip' && 'reason' in e)
}

/** Runs calls one after another: engines must not start a run while one is in flight. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve()

  /** Runs `task` after every task queued before it, whether those succeeded or not. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(task, task)
    this.#tail = next.catch(() => undefined)
    return next
  }
}
