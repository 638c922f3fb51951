/**
 * @module
 * An engine on a GPU device that outlives the device. When the device is lost (its `lost` promise
 * resolves: `destroyed`, or `unknown` for a driver reset or a GPU process crash) the model is built
 * again on the next backend from the bytes the worker still holds, at once, not on the next call. The
 * call in flight is run again on the new engine and answered (inference has no side effects, so the
 * caller gets what it would have got), and so is every later call. Should no backend take the model,
 * that call and every later one reject with the error the rebuild gave (`backend_unavailable`).
 */
import type { Backend } from '../../core/formats/common.ts'
import type { BackendChange, SelfCheck, TensorData } from '../protocol.ts'
import type { Engine, TensorInfo } from './engine.ts'

/** An engine whose device may be lost. */
export type LosableEngine = Engine & { readonly lost: Promise<string> }

/** What rebuilding the model gave: the new engine, and every backend skipped so far (the lost one too). */
export type Rebuilt = BackendChange & { engine: Engine }

/** One model that runs on `first` until its device is lost, then on what `rebuild` made. */
export class FallbackEngine implements Engine {
  readonly inputs: readonly TensorInfo[]
  readonly outputs: readonly TensorInfo[]
  readonly selfCheck?: SelfCheck
  #current: Engine
  #rebuilt?: Promise<Engine>
  #change?: BackendChange
  #disposed = false

  /** `rebuild` gets the loss's detail; it runs once, as soon as the device is lost. */
  constructor(
    first: LosableEngine,
    private readonly rebuild: (detail: string) => Promise<Rebuilt>,
  ) {
    this.#current = first
    this.inputs = first.inputs
    this.outputs = first.outputs
    if (first.selfCheck !== undefined) this.selfCheck = first.selfCheck
    void first.lost.then((detail) => this.#moveOn(first, detail))
  }

  /** The backend serving calls now. */
  get backend(): Backend {
    return this.#current.backend
  }

  /** Where the model runs since its device was lost, and why; undefined before. */
  get change(): BackendChange | undefined {
    return this.#change
  }

  async run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    if (this.#rebuilt !== undefined) return (await this.#rebuilt).run(feeds)
    const engine = this.#current as LosableEngine
    let answer: { outputs: Record<string, TensorData> } | undefined
    try {
      // A run on a lost device may fail, or never settle: whichever comes first, the loss wins.
      answer = await Promise.race([
        engine.run(feeds).then((outputs) => ({ outputs })),
        engine.lost.then(() => undefined),
      ])
    } catch (e) {
      // The loss is announced by a task of its own, which may come just after the run's failure.
      if (!(await lostSoon(engine))) throw e
    }
    if (answer !== undefined) return answer.outputs
    return (await this.#rebuilt!).run(feeds)
  }

  async dispose(): Promise<void> {
    this.#disposed = true
    if (this.#rebuilt === undefined) return this.#current.dispose()
    const engine = await this.#rebuilt.catch(() => undefined)
    await engine?.dispose()
  }

  #moveOn(lostEngine: Engine, detail: string): void {
    // Disposed already (with the engine that was lost): nothing to rebuild.
    if (this.#disposed) return
    // A dispose() meanwhile waits for the new engine and disposes it.
    this.#rebuilt = this.rebuild(detail).then(({ engine, ...change }) => {
      this.#current = engine
      this.#change = change
      return engine
    })
    // Not awaited: a session whose device is gone may hold a run that never ends, and its release
    // queues behind it.
    void lostEngine.dispose().catch(() => undefined)
    this.#rebuilt.catch(() => undefined)
  }
}

/** True when `engine`'s device loss is announced within two tasks. */
async function lostSoon(engine: LosableEngine): Promise<boolean> {
  const later = new Promise<false>((resolve) => setTimeout(() => setTimeout(() => resolve(false), 0), 0))
  return Promise.race([engine.lost.then(() => true as const), later])
}
