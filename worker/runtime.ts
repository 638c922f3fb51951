import { transfer } from 'comlink'
import type { Backend } from '../core/formats/common.ts'
import { EdgefleetError } from '../core/errors.ts'
import { capabilities } from './gpu.ts'
import { DriftMonitor } from './drift-monitor.ts'
import type { EngineFamily } from './engines/engine.ts'
import { onnxFamily } from './engines/onnx.ts'
import { RuntimeFiles } from './engines/runtime-files.ts'
import { BackendInits, selectBackend } from './engines/select.ts'
import { tfjsFamily } from './engines/tfjs.ts'
import { LoadedModel } from './loaded-model.ts'
import type { DriftReport, LoadRequest, LoadResult, ModelInput, PredictResult, StatsDelta, TensorData, WorkerApi, WorkerCapabilities } from './protocol.ts'
import { TabularIo } from './tabular-io.ts'
import { buffersOf } from './tensor-data.ts'
import { TensorIo } from './tensor-io.ts'

/** DESIGN "Client SDK": ONNX tries WebGPU then WASM; tfjs WebGPU, WebGL, WASM, then plain JS. */
export const DEFAULT_BACKENDS: Record<LoadRequest['format'], Backend[]> = {
  onnx: ['webgpu', 'wasm'],
  'tfjs-layers': ['webgpu', 'webgl', 'wasm', 'cpu'],
  'tfjs-graph': ['webgpu', 'webgl', 'wasm', 'cpu'],
}

/**
 * The WorkerApi (protocol.ts): models by key, each with its engine, I/O shaping, drift monitor and
 * counters. The clock is injectable; `now` arguments default to it at this boundary only.
 */
export class WorkerRuntime implements WorkerApi {
  readonly #models = new Map<string, LoadedModel | 'loading'>()
  readonly #files = new RuntimeFiles()
  readonly #inits = new BackendInits()
  readonly #families = new Map<string, EngineFamily>()

  constructor(private readonly clock: () => number = Date.now) {}

  capabilities(): Promise<WorkerCapabilities> {
    return capabilities()
  }

  async load(request: LoadRequest): Promise<LoadResult> {
    checkRequest(request)
    const { key } = request
    if (this.#models.has(key)) throw new EdgefleetError('conflict', `a model is already loaded (or loading) as "${key}"; unload it first`, { pointer: '/key' })
    this.#models.set(key, 'loading')
    try {
      this.#files.add(request.runtime)
      const started = performance.now()
      const order = request.backends ?? DEFAULT_BACKENDS[request.format]
      const model = { name: `${request.model}@${request.version}`, files: request.files, probe: request.probe }
      const selection = await selectBackend(this.#family(request.format), order, this.#inits, model, { allowFallbackAdapter: request.allowFallbackAdapter === true })
      const { engine } = selection
      let loaded: LoadedModel
      try {
        const now = this.clock()
        const monitor = request.profile === undefined ? undefined : new DriftMonitor(request.profile, { now, windowMinutes: request.driftWindowMinutes, policy: request.driftPolicy })
        const io = request.signature?.kind === 'tabular' ? { kind: 'tabular' as const, io: new TabularIo(request.signature, engine, monitor) } : { kind: 'tensor' as const, io: new TensorIo(engine, monitor) }
        loaded = new LoadedModel({ key, model: request.model, version: request.version }, engine, io, monitor, now)
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

  async predict(key: string, input: ModelInput): Promise<PredictResult> {
    const [result] = await this.#get(key).predict([input], this.clock(), () => '/input')
    return withTransfer(result)
  }

  async predictBatch(key: string, inputs: ModelInput[]): Promise<PredictResult[]> {
    if (!Array.isArray(inputs)) throw new EdgefleetError('bad_request', 'predictBatch takes an array of inputs', { pointer: '/inputs' })
    const model = this.#get(key)
    if (inputs.length === 0) return []
    return withTransfer(await model.predict(inputs, this.clock(), (i) => `/inputs/${i}`))
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
    await model.dispose()
  }

  #get(key: string): LoadedModel {
    const model = this.#models.get(key)
    if (model === 'loading') throw new EdgefleetError('conflict', `model "${key}" is still loading`)
    if (model === undefined) throw new EdgefleetError('not_found', `no model is loaded as "${key}"`)
    return model
  }

  #family(format: LoadRequest['format']): EngineFamily {
    let family = this.#families.get(format)
    if (family === undefined) {
      family = format === 'onnx' ? onnxFamily(this.#files) : tfjsFamily(this.#files, format)
      this.#families.set(format, family)
    }
    return family
  }
}

/** Tensor outputs go back transferred, not copied. */
function withTransfer<T extends PredictResult | PredictResult[]>(value: T): T {
  const results = Array.isArray(value) ? value : [value]
  const tensors = results.flatMap((r): TensorData[] => (r.output.kind === 'tensors' ? Object.values(r.output.tensors) : []))
  return tensors.length === 0 ? value : transfer(value, buffersOf(tensors))
}

function checkRequest(r: LoadRequest): void {
  const bad = (message: string, pointer: string) => new EdgefleetError('bad_request', message, { pointer })
  if (typeof r !== 'object' || r === null) throw bad('a load request is an object', '')
  if (typeof r.key !== 'string' || r.key === '') throw bad('key must be a non-empty string', '/key')
  if (!(r.format in DEFAULT_BACKENDS)) throw bad(`format must be onnx, tfjs-layers or tfjs-graph, got ${String(r.format)}`, '/format')
  if (typeof r.files !== 'object' || r.files === null || !Object.values(r.files).every((f) => f instanceof ArrayBuffer)) throw bad('files must map paths to ArrayBuffers', '/files')
  if (r.backends !== undefined && !(Array.isArray(r.backends) && r.backends.every((b) => ['webgpu', 'webgl', 'wasm', 'cpu'].includes(b)))) throw bad('backends must list webgpu, webgl, wasm or cpu', '/backends')
}
