import { EdgefleetError } from '../core/errors.ts'
import type { Backend } from '../core/formats/common.ts'
import type { Signature } from '../core/formats/signature.ts'
import type { BackendChange, DriftReport, LoadResult, ModelInput, ModelOutput, ShadowRun } from '../worker/protocol.ts'
import type { WorkerHost } from './worker-host.ts'

/** One prediction, as the app sees it. */
export interface Prediction {
  /** Identifies the prediction for `fleet.feedback(id, label)`. */
  id: string
  output: ModelOutput
  version: number
  backend: Backend
  /** Engine time in the worker, milliseconds. */
  ms: number
}

/** A version loaded in the worker. */
export interface LoadedVersion {
  key: string
  version: number
  result: LoadResult
  signature?: Signature
  downloadedBytes: number
}

/** What a model handle needs from the fleet that made it. */
export interface ModelHooks {
  /** The handle closed: stop its timers and telemetry. */
  closed(m: FleetModel): void
  /** Checks the assignment now and swaps in a new version when it changed. */
  refresh(m: FleetModel): Promise<void>
  /** Predictions a version just made (remembered for `fleet.feedback`). */
  predicted(v: LoadedVersion, predictions: readonly Prediction[]): void
  /** A version is idle and about to be unloaded: take its last telemetry delta now. */
  retire(key: string): Promise<void>
  /** A version now runs on another backend than `from` (its `result` already says which, and why). */
  backendChanged(v: LoadedVersion, from: Backend): Promise<void>
  /** A prediction of `v` failed with `error` (device health counts out-of-memory runs). */
  runFailed?(v: LoadedVersion, error: unknown): void
  /** Uniform in [0, 1): which predictions the shadow also runs. */
  random(): number
}

/** The shadow version running beside a model's primary (a shadow-mode rollout's candidate). */
export interface ShadowSlot {
  /** Its key in the worker. */
  key: string
  version: number
  /** The share of predictions it also runs. */
  sampleRate: number
}

let sequence = 0
const nextId = () => `p_${Date.now().toString(36)}_${(++sequence).toString(36)}`

/**
 * A model as the app holds it: `predict` always runs the version currently in place; a new
 * version loads beside it in the background and takes over between two predictions, so no
 * prediction fails during a swap. The old version is unloaded once its in-flight calls finish.
 */
export class FleetModel {
  private active: LoadedVersion
  private readonly inflight = new Map<string, number>()
  private closed = false
  private shadowSlot?: ShadowSlot

  constructor(
    readonly name: string,
    private readonly host: WorkerHost,
    loaded: LoadedVersion,
    private readonly hooks: ModelHooks,
  ) {
    this.active = loaded
  }

  /** The version serving predictions now. */
  get version(): number {
    return this.active.version
  }

  /** The worker's key of the active version (telemetry collects by it). */
  get workerKey(): string {
    return this.active.key
  }

  /** What the active version takes and returns (features and their transforms, or tensors; class labels). */
  get signature(): Signature | undefined {
    return this.active.signature
  }

  /** The backend the active version runs on, and why others were skipped. */
  get backend(): { backend: Backend; fallbacks: LoadResult['fallbacks'] } {
    return { backend: this.active.result.backend, fallbacks: this.active.result.fallbacks }
  }

  /**
   * The shadow version running beside this model, if its assignment has one and it loaded: it runs on
   * a share of the inputs after each answer, and its outputs never reach the app.
   */
  get shadow(): Readonly<ShadowSlot> | undefined {
    return this.shadowSlot
  }

  /** Puts a loaded shadow in place (or removes it); returns the one it replaced. Set by the fleet. */
  setShadow(slot: ShadowSlot | undefined): ShadowSlot | undefined {
    const old = this.shadowSlot
    this.shadowSlot = this.closed ? undefined : slot
    return old
  }

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.closed
  }

  /**
   * Resolves once the shadow runs of the predictions made so far have run (or were dropped), e.g.
   * before `fleet.flush()` when their comparisons must be in it. Waits while the app keeps the worker busy.
   */
  settled(): Promise<void> {
    return this.host.api.settle()
  }

  /** Runs one prediction: a tabular record, or named tensors for tensor models. */
  async predict(input: ModelInput): Promise<Prediction> {
    return this.run(this.active, async (v) => {
      const r = await this.host.api.predict(v.key, input, this.shadowRun(1))
      await this.noteBackend(v, r.backendChange)
      const p: Prediction = { id: nextId(), output: r.output, version: v.version, backend: v.result.backend, ms: r.ms }
      this.hooks.predicted(v, [p])
      return p
    })
  }

  /** Runs several predictions in one worker round trip. */
  async predictBatch(inputs: ModelInput[]): Promise<Prediction[]> {
    return this.run(this.active, async (v) => {
      const rs = await this.host.api.predictBatch(v.key, inputs, this.shadowRun(inputs.length))
      await this.noteBackend(v, rs[0]?.backendChange)
      const ps = rs.map((r): Prediction => ({
        id: nextId(),
        output: r.output,
        version: v.version,
        backend: v.result.backend,
        ms: r.ms,
      }))
      this.hooks.predicted(v, ps)
      return ps
    })
  }

  /** Local drift of this device's inputs and outputs against the active version's reference profile. */
  drift(): Promise<DriftReport> {
    return this.host.api.drift(this.active.key)
  }

  /** Asks the edge for this device's assignment now and swaps if it changed. */
  refresh(): Promise<void> {
    return this.hooks.refresh(this)
  }

  /** Puts a freshly loaded version in place; the previous one is unloaded when idle. */
  swap(next: LoadedVersion): void {
    if (this.closed) {
      void this.host.api.unload(next.key)
      return
    }
    const old = this.active
    this.active = next
    if (old.key !== next.key) void this.unloadWhenIdle(old.key)
  }

  /** Unloads the model from the worker. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    // The fleet takes the shadow slot (to unload it) in `closed`.
    this.hooks.closed(this)
    this.shadowSlot = undefined
    await this.unloadWhenIdle(this.active.key)
  }

  /** Takes the worker's word that `v` moved to another backend (once: later answers repeat it). */
  private async noteBackend(v: LoadedVersion, change: BackendChange | undefined): Promise<void> {
    if (change === undefined || change.backend === v.result.backend) return
    const from = v.result.backend
    v.result = {
      ...v.result,
      backend: change.backend,
      fallbacks: { ...change.fallbacks },
      fallbackDetails: { ...change.fallbackDetails },
    }
    await this.hooks.backendChanged(v, from).catch(() => undefined)
  }

  /** Which of `n` inputs the shadow also runs: each with probability `sampleRate`, drawn here. */
  private shadowRun(n: number): ShadowRun | undefined {
    const slot = this.shadowSlot
    if (slot === undefined) return undefined
    const rows: number[] = []
    for (let i = 0; i < n; i++) if (this.hooks.random() < slot.sampleRate) rows.push(i)
    return rows.length === 0 ? undefined : { key: slot.key, rows }
  }

  private async run<T>(v: LoadedVersion, fn: (v: LoadedVersion) => Promise<T>): Promise<T> {
    if (this.closed) throw new EdgefleetError('bad_request', `model "${this.name}" is closed`)
    this.inflight.set(v.key, (this.inflight.get(v.key) ?? 0) + 1)
    try {
      return await fn(v)
    } catch (e) {
      this.hooks.runFailed?.(v, e)
      throw e
    } finally {
      this.inflight.set(v.key, this.inflight.get(v.key)! - 1)
    }
  }

  private async unloadWhenIdle(key: string): Promise<void> {
    while ((this.inflight.get(key) ?? 0) > 0) await new Promise((r) => setTimeout(r, 5))
    this.inflight.delete(key)
    // After its last prediction and before the worker forgets it, or that delta would be lost.
    await this.hooks.retire(key)
    await this.host.api.unload(key).catch(() => undefined)
  }
}
