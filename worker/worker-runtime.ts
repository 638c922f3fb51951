import { transfer } from 'comlink'
import { EdgefleetError } from '../core/errors.ts'
import { capabilities } from './gpu.ts'
import { DriftMonitor } from './drift-monitor.ts'
import { QualityCounter } from './quality-counter.ts'
import { CalibrationCounter } from './calibration-counter.ts'
import type { Backend } from '../core/formats/common.ts'
import { BackendSkip, type EngineFamily, type ModelFiles } from './engines/engine.ts'
import { FallbackEngine, type LosableEngine, type Rebuilt } from './engines/fallback-engine.ts'
import { onnxFamily } from './engines/onnx.ts'
import { RuntimeFiles } from './engines/runtime-files.ts'
import { BackendInits, selectBackend, type Selection } from './engines/select.ts'
import { tfjsEngine } from './engines/tfjs-engine.ts'
import { LoadedModel } from './loaded-model.ts'
import type {
  DriftReport,
  LoadRequest,
  LoadResult,
  ModelInput,
  ModelOutput,
  PredictResult,
  ShadowRun,
  StatsDelta,
  TensorData,
  WorkerApi,
  WorkerCapabilities,
  WebnnDeviceType,
} from './protocol.ts'
import { DEFAULT_BACKENDS, defaultBackends } from '../core/backends.ts'
import { compareOutputs, DEFAULT_SHADOW_TOLERANCE, keepOutput, ShadowStats } from './shadow-compare.ts'
import { ShadowQueue } from './shadow-queue.ts'
import { TabularIo } from './tabular-io.ts'
import { buffersOf } from './tensor-data.ts'
import { TensorIo } from './tensor-io.ts'

/** A shadow run waiting: the shadow's key, the inputs, and the primary's answers to compare with. */
interface ShadowJob {
  key: string
  inputs: ModelInput[]
  primary: ModelOutput[]
}

/**
 * The WorkerApi (protocol.ts): models by key, each with its engine, I/O shaping, drift monitor and
 * counters; shadow runs queued behind the app's requests (shadow-queue.ts). The clock is injectable;
 * `now` arguments default to it at this boundary only.
 */
export class WorkerRuntime implements WorkerApi {
  readonly #models = new Map<string, LoadedModel | 'loading'>()
  readonly #files = new RuntimeFiles()
  readonly #inits = new BackendInits()
  readonly #families = new Map<string, Promise<EngineFamily>>()
  readonly #shadows = new ShadowQueue<ShadowJob>((job) => this.#runShadow(job))

  /**
   * @param clock the time source of drift windows and counters.
   * @param ready what `capabilities()` waits for before it answers: the entry passes the grant of the
   *   worker's life lock, so the page, which asks for that lock once it has the answer, always queues
   *   behind the worker and is never granted it while the worker lives.
   */
  constructor(
    private readonly clock: () => number = Date.now,
    private readonly ready: Promise<void> = Promise.resolve(),
  ) {}

  async capabilities(): Promise<WorkerCapabilities> {
    await this.ready
    return capabilities()
  }

  async load(request: LoadRequest): Promise<LoadResult> {
    checkRequest(request)
    const { key } = request
    if (this.#models.has(key))
      throw new EdgefleetError('conflict', `a model is already loaded (or loading) as "${key}"; unload it first`, {
        pointer: '/key',
      })
    this.#models.set(key, 'loading')
    try {
      this.#files.add(request.runtime)
      const started = performance.now()
      const order = request.backends ?? defaultBackends(request.format)
      const model = {
        name: `${request.model}@${request.version}`,
        files: request.files,
        probe: request.probe,
        webnnDeviceType: request.webnnDeviceType,
      }
      const family = await this.#family(request)
      const options = {
        allowFallbackAdapter: request.allowFallbackAdapter === true,
        webnnDeviceType: request.webnnDeviceType,
      }
      const selection = await selectBackend(family, order, this.#inits, model, options)
      const first = selection.engine
      // An engine on a GPU device keeps the model's bytes here, to be rebuilt should the device be lost.
      const engine =
        first.lost === undefined
          ? first
          : new FallbackEngine(first as LosableEngine, (detail) =>
              this.#rebuild({ family, order, model, options, before: selection, detail }),
            )
      let loaded: LoadedModel
      try {
        const now = this.clock()
        const monitor =
          request.profile === undefined
            ? undefined
            : new DriftMonitor(request.profile, {
                now,
                windowMinutes: request.driftWindowMinutes,
                policy: request.driftPolicy,
              })
        const io =
          request.signature?.kind === 'tabular'
            ? {
                kind: 'tabular' as const,
                io: new TabularIo(request.signature, engine, monitor, {
                  quality:
                    request.profile === undefined
                      ? undefined
                      : new QualityCounter(request.profile.features, request.signature.features),
                  calibration:
                    request.profile?.calibration === undefined
                      ? undefined
                      : new CalibrationCounter(request.profile.calibration),
                }),
              }
            : { kind: 'tensor' as const, io: new TensorIo(engine, monitor) }
        loaded = new LoadedModel(
          { key, model: request.model, version: request.version },
          engine,
          io,
          monitor,
          now,
          request.role === 'shadow' ? shadowOf(request) : undefined,
        )
      } catch (e) {
        await engine.dispose()
        throw e
      }
      this.#models.set(key, loaded)
      const result: LoadResult = {
        key,
        backend: engine.backend,
        fallbacks: selection.fallbacks,
        fallbackDetails: selection.fallbackDetails,
        loadMs: performance.now() - started,
        inputs: engine.inputs.map((i) => i.name),
        outputs: engine.outputs.map((o) => o.name),
      }
      if (selection.selfCheck !== undefined) result.selfCheck = selection.selfCheck
      return result
    } catch (e) {
      this.#models.delete(key)
      throw e
    }
  }

  async predict(key: string, input: ModelInput, shadow?: ShadowRun): Promise<PredictResult> {
    const model = this.#get(key)
    this.#shadows.primaryStarted()
    try {
      const [result] = await model.predict([input], this.clock(), () => '/input')
      if (shadow !== undefined) this.#offerShadow(shadow.key, [input], [result.output])
      return withTransfer(result)
    } finally {
      this.#shadows.primaryFinished()
    }
  }

  async predictBatch(key: string, inputs: ModelInput[], shadow?: ShadowRun): Promise<PredictResult[]> {
    if (!Array.isArray(inputs))
      throw new EdgefleetError('bad_request', 'predictBatch takes an array of inputs', { pointer: '/inputs' })
    const model = this.#get(key)
    if (inputs.length === 0) return []
    this.#shadows.primaryStarted()
    try {
      const results = await model.predict(inputs, this.clock(), (i) => `/inputs/${i}`)
      if (shadow !== undefined) {
        const rows = (shadow.rows ?? inputs.map((_, i) => i)).filter(
          (i) => Number.isInteger(i) && i >= 0 && i < inputs.length,
        )
        if (rows.length > 0)
          this.#offerShadow(
            shadow.key,
            rows.map((i) => inputs[i]),
            rows.map((i) => results[i].output),
          )
      }
      return withTransfer(results)
    } finally {
      this.#shadows.primaryFinished()
    }
  }

  settle(): Promise<void> {
    return this.#shadows.settled()
  }

  async drift(key: string, now: number = this.clock()): Promise<DriftReport> {
    return this.#get(key).drift(now)
  }

  async collect(key: string, now: number = this.clock()): Promise<StatsDelta> {
    return this.#get(key).collect(now)
  }

  /** Releases the model's engine; unloading an unknown key does nothing, so it is safe to call twice. */
  async unload(key: string): Promise<void> {
    const model = this.#models.get(key)
    if (!(model instanceof LoadedModel)) return
    this.#models.delete(key)
    this.#shadows.discard((job) => job.key === key)
    await model.dispose()
  }

  /** Queues a shadow run (the primary's outputs copied: its tensors are about to be transferred); a full queue counts its inputs as dropped. */
  #offerShadow(key: string, inputs: ModelInput[], primary: ModelOutput[]): void {
    const shadow = this.#models.get(key)
    // Not (or no longer) loaded as a shadow: nothing to compare with.
    if (!(shadow instanceof LoadedModel) || shadow.shadow === undefined) return
    if (!this.#shadows.offer({ key, inputs, primary: primary.map(keepOutput) }))
      shadow.shadow.stats.dropped += inputs.length
  }

  /** Runs the shadow on the inputs and counts each comparison; its outputs go no further. Its failures count as its errors. */
  async #runShadow(job: ShadowJob): Promise<void> {
    const model = this.#models.get(job.key)
    if (!(model instanceof LoadedModel) || model.shadow === undefined) return
    const results = await model.predict(job.inputs, this.clock(), (i) => `/inputs/${i}`)
    const { stats, compare } = model.shadow
    results.forEach((r, i) => stats.add(compareOutputs(job.primary[i], r.output, compare)))
  }

  #get(key: string): LoadedModel {
    const model = this.#models.get(key)
    if (model === 'loading') throw new EdgefleetError('conflict', `model "${key}" is still loading`)
    if (model === undefined) throw new EdgefleetError('not_found', `no model is loaded as "${key}"`)
    return model
  }

  /**
   * A model's engine again after the device of `before`'s backend was lost: that backend is marked gone
   * for this worker, and the model is created on the next backends of `order` (by the usual selection).
   */
  async #rebuild(lost: {
    family: EngineFamily
    order: readonly Backend[]
    model: ModelFiles
    options: { allowFallbackAdapter: boolean; webnnDeviceType?: WebnnDeviceType }
    before: Selection
    detail: string
  }): Promise<Rebuilt> {
    const { family, order, model, options, before, detail } = lost
    const gone = before.engine.backend
    const skip = new BackendSkip('device_lost', detail)
    this.#inits.lose(family, gone, skip)
    const fallbacks = { ...before.fallbacks, [gone]: skip.reason }
    const fallbackDetails = { ...before.fallbackDetails, [gone]: skip.message }
    const rest = order.slice(order.indexOf(gone) + 1)
    if (rest.length === 0)
      throw new EdgefleetError(
        'backend_unavailable',
        `the ${gone} device running ${model.name} was lost (${detail}) and no other backend is allowed for it`,
        { data: { reasons: fallbacks, details: fallbackDetails } },
      )
    const next = await selectBackend(family, rest, this.#inits, model, options)
    return {
      engine: next.engine,
      backend: next.engine.backend,
      fallbacks: { ...fallbacks, ...next.fallbacks },
      fallbackDetails: { ...fallbackDetails, ...next.fallbackDetails },
    }
  }

  /** The engine family of a request's format, made once per format (tfjs imported on its first model). */
  #family(request: LoadRequest): Promise<EngineFamily> {
    const { format } = request
    let family = this.#families.get(format)
    if (family === undefined) {
      family =
        format === 'hf-onnx'
          ? // transformers.js runs these in the page (fleet.huggingFace): the worker never loads one.
            Promise.reject(
              new EdgefleetError('bad_request', 'a Hugging Face model (hf-onnx) is loaded with fleet.huggingFace()'),
            )
          : format === 'onnx'
            ? Promise.resolve(onnxFamily(this.#files))
            : tfjsEngine(request.tfjsEngine).then(
                (m) => m.tfjsFamily(this.#files, format),
                (e: unknown) => {
                  throw new EdgefleetError(
                    'backend_unavailable',
                    `the TensorFlow.js engine could not be loaded: ${e instanceof Error ? e.message : String(e)}`,
                  )
                },
              )
      family.catch(() => this.#families.delete(format))
      this.#families.set(format, family)
    }
    return family
  }
}

/** How a shadow load compares its outputs: its tolerance, and the labels its tensor signature gives outputs. */
function shadowOf(request: LoadRequest): NonNullable<LoadedModel['shadow']> {
  const tolerance = request.shadowTolerance ?? DEFAULT_SHADOW_TOLERANCE
  if (!(typeof tolerance === 'number' && tolerance >= 0 && Number.isFinite(tolerance)))
    throw new EdgefleetError('bad_request', 'shadowTolerance must be a finite number ≥ 0', {
      pointer: '/shadowTolerance',
    })
  const labels: Record<string, readonly string[]> = {}
  if (request.signature?.kind === 'tensor')
    for (const o of request.signature.outputs) if (o.labels !== undefined) labels[o.name] = o.labels
  return { stats: new ShadowStats(), compare: { tolerance, labels } }
}

/**
 * Large tensor outputs go back transferred, not copied. Small ones are copied: below about 64 KB the
 * structured clone's copy costs less than detaching buffers and handing over a transfer list.
 */
const TRANSFER_FROM_BYTES = 65_536

function withTransfer<T extends PredictResult | PredictResult[]>(value: T): T {
  const results = Array.isArray(value) ? value : [value]
  const tensors = results.flatMap((r): TensorData[] =>
    r.output.kind === 'tensors' ? Object.values(r.output.tensors) : [],
  )
  const large = buffersOf(tensors).filter((b) => b.byteLength >= TRANSFER_FROM_BYTES)
  return large.length === 0 ? value : transfer(value, large)
}

function checkRequest(r: LoadRequest): void {
  const bad = (message: string, pointer: string) => new EdgefleetError('bad_request', message, { pointer })
  if (typeof r !== 'object' || r === null) throw bad('a load request is an object', '')
  if (typeof r.key !== 'string' || r.key === '') throw bad('key must be a non-empty string', '/key')
  if (!(r.format in DEFAULT_BACKENDS))
    throw bad(`format must be onnx, tfjs-layers or tfjs-graph, got ${String(r.format)}`, '/format')
  if (typeof r.files !== 'object' || r.files === null || !Object.values(r.files).every((f) => f instanceof ArrayBuffer))
    throw bad('files must map paths to ArrayBuffers', '/files')
  if (
    r.backends !== undefined &&
    !(Array.isArray(r.backends) && r.backends.every((b) => ['webgpu', 'webgl', 'wasm', 'cpu', 'webnn'].includes(b)))
  )
    throw bad('backends must list webgpu, webgl, wasm, cpu or webnn', '/backends')
  if (r.webnnDeviceType !== undefined && !['cpu', 'gpu', 'npu'].includes(r.webnnDeviceType))
    throw bad('webnnDeviceType must be cpu, gpu or npu', '/webnnDeviceType')
}
