import { isEdgefleetError } from '../core/errors.ts'
import type { Assignment } from '../core/formats/assignment.ts'
import type { Backend } from '../core/formats/common.ts'
import type { VariantExclusion } from '../core/formats/variants.ts'
import type { AssignmentAnswer } from './assignment.ts'
import { isVariantFailure, variantFallback } from './broken-variants.ts'
import type { FleetModel, LoadedVersion, ShadowSlot } from './model.ts'
import type { ReportTarget } from './telemetry/report-builder.ts'
import type { TelemetryProcessor } from './telemetry/processor.ts'
import type { FleetEvent, LoadOptions } from './types.ts'
import type { VersionToLoad } from './version-loader.ts'

/** What the shadow keeper needs from the fleet. */
export interface ShadowKeeperDeps {
  /** Downloads, verifies, caches and loads a version in the worker (as a primary is). */
  load(version: VersionToLoad, options: LoadOptions): Promise<LoadedVersion>
  /** Takes a key's last telemetry delta, then unloads it from the worker. */
  unload(key: string): Promise<void>
  telemetry(): Promise<TelemetryProcessor | null>
  emit(event: FleetEvent): void
  /** The backends a load of this format tries, in order. */
  backends(format: Assignment['format'], options: LoadOptions): Backend[]
  /**
   * Remembers a shadow variant as broken on this device (client/broken-variants.ts) and asks the edge
   * again, which leaves it out: the answer, or null when the edge could not be asked.
   */
  variantFailed(model: FleetModel, broken: VariantExclusion): Promise<AssignmentAnswer | null>
  /** Takes an answer of the edge as the model's next assignment (as its periodic check would). */
  adopt(model: FleetModel, answer: AssignmentAnswer, options: LoadOptions): Promise<void>
}

interface ShadowState {
  /** Bumped by every change of plan, so a load that finishes after its plan changed is thrown away. */
  generation: number
  loading?: { shadow: string; done: Promise<void> }
  /**
   * A shadow (version and variant, `shadowId`) whose load failed for a reason retrying will not fix
   * (integrity, backend): not retried until the assignment moves on.
   */
  failed?: string
}

/** A shadow as the keeper tells them apart: its version and variant. */
const shadowId = (shadow: NonNullable<Assignment['shadow']>) => `${shadow.version}:${shadow.variant ?? ''}`

/**
 * Keeps each model's shadow (a shadow-mode rollout's candidate, `assignment.shadow`) in line with
 * its assignment: loads it in the background beside the primary (same worker, same verified cache),
 * updates its sample rate, replaces it when the version changes, and unloads it when the assignment
 * drops it or the model closes. A shadow that fails to load leaves the primary untouched: the app
 * gets an `error` event with `role: 'shadow'`, and the shadow's report counts one load and one error.
 *
 * @example
 * const shadows = new ShadowKeeper(deps)
 * void shadows.sync(model, assignment, loadOptions)   // after load and after each assignment check
 */
export class ShadowKeeper {
  readonly #states = new WeakMap<FleetModel, ShadowState>()

  constructor(private readonly deps: ShadowKeeperDeps) {}

  /** Brings the model's shadow in line with `assignment` (which came from the edge, or from the cache when offline). Never throws. */
  async sync(
    model: FleetModel,
    assignment: Assignment,
    options: LoadOptions,
    source: 'edge' | 'cache' = 'edge',
  ): Promise<void> {
    const state = this.#state(model)
    const want = assignment.shadow
    const have = model.shadow
    if (want && have && have.version === want.version) {
      model.setShadow({ ...have, sampleRate: want.sampleRate })
      const telemetry = await this.deps.telemetry().catch(() => null)
      const target = telemetry?.targetOf(have.key)
      if (
        telemetry &&
        target &&
        rolloutOf(target) !== rolloutOf(shadowTarget(assignment, target.backend, target.fallbacks))
      )
        await telemetry.retarget(have.key, shadowTarget(assignment, target.backend, target.fallbacks))
      return
    }
    if (want && state.loading?.shadow === shadowId(want)) return state.loading.done
    if (want && state.failed === shadowId(want) && !have) return
    const generation = ++state.generation
    state.failed = undefined
    if (have) await this.#unload(model)
    if (!want || model.isClosed) return
    const done = this.#load(model, assignment, options, generation, source)
    state.loading = { shadow: shadowId(want), done }
    await done
    if (state.loading?.done === done) state.loading = undefined
  }

  /** Unloads the model's shadow (the model closed). Never throws. */
  async drop(model: FleetModel): Promise<void> {
    this.#state(model).generation++
    await this.#unload(model)
  }

  async #unload(model: FleetModel): Promise<void> {
    const slot: ShadowSlot | undefined = model.setShadow(undefined)
    if (slot) await this.deps.unload(slot.key).catch(() => undefined)
  }

  async #load(
    model: FleetModel,
    assignment: Assignment,
    options: LoadOptions,
    generation: number,
    source: 'edge' | 'cache',
  ): Promise<void> {
    const want = assignment.shadow!
    const state = this.#state(model)
    const started = performance.now()
    let loaded: LoadedVersion
    try {
      loaded = await this.deps.load(
        {
          model: assignment.model,
          version: want.version,
          role: 'shadow',
          format: want.format,
          files: want.files,
          signature: want.signature,
          profile: want.profile,
          sigstoreBundle: want.sigstoreBundle,
          ...(want.variant ? { variant: want.variant } : {}),
          ...(want.backends ? { backends: want.backends } : {}),
        },
        options,
      )
    } catch (e) {
      const code = isEdgefleetError(e) ? e.code : 'internal'
      if (code !== 'network_error') state.failed = shadowId(want)
      this.deps.emit({
        type: 'error',
        model: assignment.model,
        role: 'shadow',
        code,
        message: e instanceof Error ? e.message : String(e),
      })
      const telemetry = await this.deps.telemetry().catch(() => null)
      if (telemetry) {
        const { backend, fallbacks } = whyNot(
          this.deps.backends(want.format, options),
          code,
          isEdgefleetError(e) ? e.details.data?.reasons : undefined,
        )
        telemetry.noteFailedLoad(
          shadowTarget(assignment, backend, fallbacks),
          assignment.telemetry,
          performance.now() - started,
          telemetry.targetOf(model.workerKey) !== undefined,
        )
      }
      if (want.variant !== undefined && isVariantFailure(e) && state.generation === generation && !model.isClosed)
        await this.#nextVariant(model, { version: want.version, variant: want.variant }, e, options)
      return
    }
    // The plan changed while it loaded (a newer assignment, or the model closed): not needed any more.
    if (state.generation !== generation || model.isClosed) {
      await this.deps.unload(loaded.key).catch(() => undefined)
      return
    }
    const telemetry = await this.deps.telemetry().catch(() => null)
    if (telemetry) {
      // The shadow reports exactly when its primary does, so the two sides come from the same devices.
      const sampled = telemetry.targetOf(model.workerKey) !== undefined
      if (
        telemetry.track(
          loaded.key,
          shadowTarget(assignment, loaded.result.backend, loaded.result.fallbacks),
          assignment.telemetry,
          sampled,
        )
      )
        telemetry.noteLoad(loaded.key, { ms: performance.now() - started, cacheHit: loaded.downloadedBytes === 0 })
    }
    model.setShadow({ key: loaded.key, version: want.version, sampleRate: want.sampleRate })
    this.deps.emit({
      type: 'loaded',
      model: assignment.model,
      role: 'shadow',
      version: want.version,
      backend: loaded.result.backend,
      fallbacks: loaded.result.fallbacks,
      assignment: source,
      downloadedBytes: loaded.downloadedBytes,
      ...(want.variant === undefined ? {} : { variant: want.variant }),
    })
  }

  /**
   * A shadow variant that failed here: remembered as broken, the edge asked again (it leaves the
   * variant out), a `variant_fallback` event, and the answer taken as the model's assignment, which
   * loads the next variant (none left: no shadow on this device; the primary runs as before).
   */
  async #nextVariant(model: FleetModel, broken: VariantExclusion, e: unknown, options: LoadOptions): Promise<void> {
    const answer = await this.deps.variantFailed(model, broken).catch(() => null)
    const next = answer?.status === 'changed' ? answer : null
    const shadow = next?.assignment.shadow
    const to = shadow?.version === broken.version ? (shadow.variant ?? null) : null
    this.deps.emit({ ...variantFallback(model.name, broken, to, e), role: 'shadow' })
    // Not awaited: the answer's shadow loads through sync, after this failed load has ended.
    if (next && !model.isClosed) void this.deps.adopt(model, next, options).catch(() => undefined)
  }

  #state(model: FleetModel): ShadowState {
    let s = this.#states.get(model)
    if (!s) this.#states.set(model, (s = { generation: 0 }))
    return s
  }
}

/** The shadow's report target: its version, role `shadow`, and the rollout's candidate arm. */
function shadowTarget(
  assignment: Assignment,
  backend: Backend,
  fallbacks: Partial<Record<Backend, string>>,
): ReportTarget {
  const rollout = assignment.rollout ? { rollout: { id: assignment.rollout.id, arm: 'candidate' as const } } : {}
  return {
    model: assignment.model,
    version: assignment.shadow!.version,
    role: 'shadow',
    ...rollout,
    backend,
    fallbacks,
    ...(assignment.shadow!.variant === undefined ? {} : { variant: assignment.shadow!.variant }),
  }
}

const rolloutOf = (t: ReportTarget) => `${t.rollout?.id ?? ''}:${t.rollout?.arm ?? ''}`

/**
 * What a failed load reports: the per-backend reasons when the worker tried backends
 * (`backend_unavailable`), else the error code under the first backend, which never got to run.
 */
function whyNot(
  order: Backend[],
  code: string,
  reasons: unknown,
): { backend: Backend; fallbacks: Partial<Record<Backend, string>> } {
  const fallbacks: Partial<Record<Backend, string>> = {}
  if (typeof reasons === 'object' && reasons !== null)
    for (const b of order) {
      const r = (reasons as Record<string, unknown>)[b]
      if (typeof r === 'string' && /^[a-z0-9_]{1,64}$/.test(r)) fallbacks[b] = r
    }
  const tried = order.filter((b) => b in fallbacks)
  if (tried.length > 0) return { backend: tried[tried.length - 1], fallbacks }
  return { backend: order[0] ?? 'wasm', fallbacks: { [order[0] ?? 'wasm']: code } }
}
