/**
 * @module
 * `createFleet`: the SDK's entry point, kept small on purpose. It checks the options at once (so a
 * mistake throws where the app wrote it) and loads the fleet itself (client/fleet-core.ts: cache,
 * worker host, assignment, telemetry, shadows) with the first `load()` or `deviceId()`, so a page that
 * imports the SDK pays only for this module until it needs a model.
 */
import { isCohortLabel } from '../core/cohort-label.ts'
import { EdgefleetError } from '../core/errors.ts'
import type { FleetCore } from './fleet-core.ts'
import type { FleetModel } from './model.ts'
import type { FeedbackResult } from './predictions.ts'
import { resolveDp, type DpOptions } from './telemetry/dp-options.ts'
import type { Fleet, FleetOptions, HuggingFaceModel, HuggingFaceOptions, LoadOptions } from './types.ts'

export type * from './types.ts'

/**
 * Creates the SDK.
 *
 * @example
 * const fleet = createFleet({ endpoint: 'https://edge.example.com', appKey })
 * const model = await fleet.load('weather')
 * const { output } = await model.predict({ temp_max: 14.2, wind: 3.1 })
 */
export function createFleet(options: FleetOptions): Fleet {
  return new FleetHandle(options)
}

/** The app's handle: checked options now, the fleet itself on first use. */
class FleetHandle implements Fleet {
  #core?: Promise<FleetCore>
  /** The fleet once loaded, for what must be synchronous (feedback). */
  #coreNow?: FleetCore
  #closed = false
  readonly #dp?: Required<DpOptions>

  constructor(private readonly options: FleetOptions) {
    if (typeof options?.endpoint !== 'string' || !/^https?:\/\//.test(options.endpoint))
      throw new EdgefleetError('bad_request', 'endpoint must be an http(s) URL', { pointer: '/endpoint' })
    if (typeof options.appKey !== 'string' || !options.appKey)
      throw new EdgefleetError('bad_request', 'appKey is required', { pointer: '/appKey' })
    if (options.cohort !== undefined && !isCohortLabel(options.cohort))
      throw new EdgefleetError('bad_request', 'cohort must be a label of 1 to 64 [A-Za-z0-9_.:-]', {
        pointer: '/cohort',
      })
    const short: unknown = options.whenStorageIsShort
    if (short !== undefined && short !== 'fail' && short !== 'run-from-memory')
      throw new EdgefleetError('bad_request', "whenStorageIsShort is 'fail' or 'run-from-memory'", {
        pointer: '/whenStorageIsShort',
      })
    const dp = typeof options.telemetry === 'object' ? options.telemetry.dp : undefined
    if (dp !== undefined) this.#dp = resolveDp(dp)
    // The keys' bytes are read with the fleet (client/signed-versions.ts); their shape is checked now.
    const keys: unknown = options.trustedKeys
    if (keys !== undefined) {
      if (!Array.isArray(keys))
        throw new EdgefleetError('bad_request', 'trustedKeys must be an array of PEM public keys', {
          pointer: '/trustedKeys',
        })
      keys.forEach((k: unknown, i) => {
        if (typeof k !== 'string' || !k.includes('-----BEGIN PUBLIC KEY-----'))
          throw new EdgefleetError('bad_request', `trustedKeys[${i}] is not a PEM public key`, {
            pointer: `/trustedKeys/${i}`,
          })
      })
    }
  }

  #fleet(): Promise<FleetCore> {
    // The worker's bundle is needed right after: fetch both chunks at once rather than one after the other.
    if (!this.#core && this.options.workerUrl === undefined) void import('./worker-source.ts').catch(() => undefined)
    this.#core ??= import('./fleet-core.ts').then(({ FleetCore }) => {
      this.#coreNow = new FleetCore(this.options, this.#dp)
      return this.#coreNow
    })
    return this.#core
  }

  async deviceId(): Promise<string> {
    return (await this.#fleet()).deviceId()
  }

  async load(model: string, options?: LoadOptions): Promise<FleetModel> {
    if (this.#closed) throw new EdgefleetError('bad_request', 'this fleet is closed')
    return (await this.#fleet()).load(model, options)
  }

  async huggingFace(model: string, options: HuggingFaceOptions): Promise<HuggingFaceModel> {
    if (this.#closed) throw new EdgefleetError('bad_request', 'this fleet is closed')
    return (await this.#fleet()).huggingFace(model, options)
  }

  feedback(predictionId: string, label: string): FeedbackResult {
    if (this.#closed) throw new EdgefleetError('bad_request', 'this fleet is closed')
    if (this.#coreNow) return this.#coreNow.feedback(predictionId, label)
    throw new EdgefleetError('not_found', `no prediction "${predictionId}": no model of this fleet has predicted yet`, {
      pointer: '/id',
    })
  }

  async flush(): Promise<void> {
    if (this.#core) await (await this.#core).flush()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#core) await (await this.#core.catch(() => null))?.close()
  }
}
