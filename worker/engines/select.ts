import type { Backend } from '../../core/formats/common.ts'
import { EdgefleetError, isEdgefleetError } from '../../core/errors.ts'
import type { BackendSkipReason, SelfCheck, WebnnDeviceType } from '../protocol.ts'
import { asSkip, type BackendSkip, type Engine, type EngineFamily, type ModelFiles } from './engine.ts'

/** The engine that ran and why every backend tried before it was passed over. */
export interface Selection {
  engine: Engine
  fallbacks: Partial<Record<Backend, BackendSkipReason>>
  fallbackDetails: Partial<Record<Backend, string>>
  selfCheck?: SelfCheck
}

/**
 * Per-worker backend starts, memoised as onnxruntime-web's backend registry does: one start per
 * (family, backend), shared by concurrent loads; an `init_failed` start is remembered and never retried
 * (a broken runtime does not heal within a worker), while other skips (missing runtime files) may
 * succeed on a later load that brings what was missing.
 */
export class BackendInits {
  readonly #started = new Map<string, Promise<void>>()
  readonly #failed = new Map<string, BackendSkip>()

  /**
   * Marks a started backend as gone for this worker's life (its GPU device was lost: the runtime holds
   * that device and cannot take another); later loads skip it with `skip`'s reason.
   */
  lose(family: EngineFamily, backend: Backend, skip: BackendSkip): void {
    const id = `${family.name}:${backend}`
    this.#started.delete(id)
    this.#failed.set(id, skip)
  }

  /** Starts `backend` of `family` once; rejects with the remembered BackendSkip when it failed before. */
  async ensure(family: EngineFamily, backend: Backend): Promise<void> {
    const id = `${family.name}:${backend}`
    const failed = this.#failed.get(id)
    if (failed !== undefined) throw failed
    let started = this.#started.get(id)
    if (started === undefined) {
      started = family.init(backend).catch((e: unknown) => {
        const skip = asSkip(e, 'init_failed')
        this.#started.delete(id)
        if (skip.reason === 'init_failed') this.#failed.set(id, skip)
        throw skip
      })
      this.#started.set(id, started)
    }
    return started
  }
}

/**
 * Creates `model` on the first backend of `order` that is available, starts and accepts it.
 * Throws `backend_unavailable` naming every backend's reason (also in `details.data.reasons`) when none does.
 *
 * @example await selectBackend(onnx, ['webgpu', 'wasm'], inits, model, { allowFallbackAdapter: false })
 */
export async function selectBackend(
  family: EngineFamily,
  order: readonly Backend[],
  inits: BackendInits,
  model: ModelFiles,
  options: { allowFallbackAdapter: boolean; webnnDeviceType?: WebnnDeviceType },
): Promise<Selection> {
  const fallbacks: Selection['fallbacks'] = {}
  const fallbackDetails: Selection['fallbackDetails'] = {}
  let selfCheck: SelfCheck | undefined
  if (order.length === 0) throw new EdgefleetError('bad_request', 'no backends to try', { pointer: '/backends' })
  for (const backend of order) {
    try {
      await family.check(backend, options)
      await inits.ensure(family, backend)
      const engine = await createOn(family, backend, model)
      return { engine, fallbacks, fallbackDetails, selfCheck: engine.selfCheck ?? selfCheck }
    } catch (e) {
      // A model the client sent wrong (no .onnx file, bad model.json) fails on every backend alike.
      if (isEdgefleetError(e)) throw e
      const skip = asSkip(e, 'create_failed')
      fallbacks[backend] = skip.reason
      fallbackDetails[backend] = skip.message
      selfCheck ??= skip.selfCheck
    }
  }
  const list = order.map((b) => `${b}: ${fallbackDetails[b]}`).join('; ')
  throw new EdgefleetError('backend_unavailable', `no backend could run ${model.name} (${family.name}): ${list}`, {
    data: { reasons: fallbacks, details: fallbackDetails, ...(selfCheck === undefined ? {} : { selfCheck }) },
  })
}

async function createOn(family: EngineFamily, backend: Backend, model: ModelFiles): Promise<Engine> {
  try {
    return await family.create(backend, model)
  } catch (e) {
    if (isEdgefleetError(e)) throw e
    throw asSkip(e, 'create_failed')
  }
}
