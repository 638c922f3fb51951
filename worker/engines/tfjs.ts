import type * as Tf from '@tensorflow/tfjs'
import type { Backend } from '../../core/formats/common.ts'
import { EdgefleetError } from '../../core/errors.ts'
import type { SelfCheck, TensorData } from '../protocol.ts'
import { numberAt } from '../tensor-data.ts'
import { BackendSkip, SerialQueue, type Engine, type EngineFamily, type ModelFiles, type TensorInfo } from './engine.ts'
import type { RuntimeFiles } from './runtime-files.ts'
import { memoryHandler } from './tfjs-model-files.ts'
import { goldenCheck, knownMismatch } from './self-check.ts'
import { requireWebgpu } from './webgpu-gate.ts'

type TfModule = typeof Tf

/**
 * TensorFlow.js layers and graph models. tfjs (~1.5 MB of JS) is imported on the first tfjs load
 * only, and its webgpu/wasm backends only when tried. tfjs has ONE active backend per thread, so every
 * tfjs step (load, run) of every model goes through one queue that first switches to the model's
 * backend; weights stay with the backend they were loaded on.
 */
export function tfjsFamily(files: RuntimeFiles, format: 'tfjs-layers' | 'tfjs-graph'): EngineFamily {
  return {
    name: 'tfjs',
    async check(backend, { allowFallbackAdapter }) {
      if (backend === 'webgpu') return requireWebgpu(allowFallbackAdapter)
      if (backend === 'webnn') throw new BackendSkip('unsupported', 'WebNN runs ONNX models only')
      if (backend === 'webgl' && !hasWebgl())
        throw new BackendSkip('not_available', 'no WebGL context on an OffscreenCanvas')
    },
    init: (backend) => startBackend(backend, files),
    async create(backend, model) {
      if (backend !== 'webgpu') return load(backend, model)
      const known = knownMismatch('tfjs', model.name)
      if (known !== undefined) throw known
      const engine = await load(backend, model)
      try {
        // tfjs's plain JS backend is the reference: always present, exact float32, no runtime files.
        engine.selfCheck = await goldenCheck('tfjs', model.name, engine, () => load('cpu', model), model.probe)
        return engine
      } catch (e) {
        await engine.dispose()
        throw e
      }
    },
  }

  async function load(backend: Backend, model: ModelFiles): Promise<TfjsEngine> {
    const tf = await tfjs()
    return queue.run(async () => {
      await use(tf, backend)
      const handler = memoryHandler(tf, model)
      const loaded = format === 'tfjs-layers' ? await tf.loadLayersModel(handler) : await tf.loadGraphModel(handler)
      return new TfjsEngine(tf, loaded, backend)
    })
  }
}

let tfModule: Promise<TfModule> | undefined
const queue = new SerialQueue()

function tfjs(): Promise<TfModule> {
  tfModule ??= import('@tensorflow/tfjs').then((tf) => {
    // Skips debug-mode checks on every op; the models are trusted, verified files.
    tf.enableProdMode()
    return tf
  })
  return tfModule
}

async function startBackend(backend: Backend, files: RuntimeFiles): Promise<void> {
  const tf = await tfjs()
  if (backend === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu')
  if (backend === 'wasm') {
    const assets = files.require('tfjsWasm')
    const wasm = await import('@tensorflow/tfjs-backend-wasm')
    // All three keys are needed: the backend picks the variant (plain, SIMD, threaded SIMD) at start.
    const urls = Object.fromEntries(
      Object.entries(assets).map(([name, bytes]) => [name, files.url('tfjsWasm', name, bytes, 'application/wasm')]),
    )
    wasm.setWasmPaths(urls)
  }
  const ok = await queue.run(() => tf.setBackend(backend))
  if (!ok) throw new BackendSkip('init_failed', `tfjs could not start its ${backend} backend`)
  if (backend === 'wasm') files.consume('tfjsWasm')
}

async function use(tf: TfModule, backend: Backend): Promise<void> {
  if (tf.getBackend() !== backend && !(await tf.setBackend(backend)))
    throw new Error(`tfjs could not switch to ${backend}`)
}

let webgl: boolean | undefined

// Asked once: every probe context counts against the browser's cap on live WebGL contexts.
function hasWebgl(): boolean {
  if (webgl === undefined) {
    const canvas = typeof OffscreenCanvas === 'undefined' ? undefined : new OffscreenCanvas(1, 1)
    webgl = canvas !== undefined && (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) !== null
  }
  return webgl
}

/** One loaded tfjs model behind the Engine interface. */
class TfjsEngine implements Engine {
  selfCheck?: SelfCheck
  readonly inputs: readonly TensorInfo[]
  readonly outputs: readonly TensorInfo[]

  constructor(
    private readonly tf: TfModule,
    private readonly model: Tf.LayersModel | Tf.GraphModel,
    readonly backend: Backend,
  ) {
    if (model instanceof tf.GraphModel) {
      this.inputs = model.inputs.map((t) => info(t.name, t.dtype, t.shape))
      this.outputs = model.outputs.map((t) => info(t.name, t.dtype, t.shape))
    } else {
      this.inputs = model.inputs.map((t, i) => info(model.inputNames[i] ?? t.name, t.dtype, t.shape))
      this.outputs = model.outputs.map((t, i) => info(model.outputNames[i] ?? t.name, t.dtype, t.shape))
    }
  }

  run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    return queue.run(async () => {
      await use(this.tf, this.backend)
      const inputs = this.inputs.map((i) => toTensor(this.tf, feeds[i.name]))
      try {
        const result =
          this.model instanceof this.tf.GraphModel ? await this.model.executeAsync(inputs) : this.model.predict(inputs)
        const outputs = Array.isArray(result) ? result : [result]
        const out: Record<string, TensorData> = {}
        for (let i = 0; i < outputs.length; i++)
          out[this.outputs[i]?.name ?? `output_${i}`] = await fromTensor(outputs[i])
        this.tf.dispose(outputs)
        return out
      } finally {
        this.tf.dispose(inputs)
      }
    })
  }

  dispose(): Promise<void> {
    return queue.run(async () => {
      this.model.dispose()
    })
  }
}

function info(name: string, dtype: string | undefined, shape: readonly (number | null)[] | undefined): TensorInfo {
  const dims = shape?.map((d) => (d === null || d < 0 ? null : d))
  return { name, dtype: dtype === 'float32' || dtype === 'int32' || dtype === 'bool' ? dtype : undefined, dims }
}

/** tfjs knows float32, int32 and bool: narrower ints widen to int32, float16 and int64 convert by value. */
function toTensor(tf: TfModule, t: TensorData): Tf.Tensor {
  switch (t.dtype) {
    case 'float32':
      return tf.tensor(t.data as Float32Array, t.dims, 'float32')
    case 'int32':
      return tf.tensor(t.data as Int32Array, t.dims, 'int32')
    case 'bool':
      return tf.tensor(t.data as Uint8Array, t.dims, 'bool')
    case 'float16':
      return tf.tensor(
        Float32Array.from({ length: t.data.length }, (_, i) => numberAt(t, i)),
        t.dims,
        'float32',
      )
    default: {
      const ints = Int32Array.from({ length: t.data.length }, (_, i) => numberAt(t, i))
      if (t.dtype === 'int64' && ints.some((v, i) => v !== numberAt(t, i)))
        throw new EdgefleetError('bad_request', 'an int64 input does not fit the int32 tfjs computes in')
      return tf.tensor(ints, t.dims, 'int32')
    }
  }
}

async function fromTensor(t: Tf.Tensor): Promise<TensorData> {
  // A copy: the cpu backend hands out its own storage, which must not be transferred away.
  const data = (await t.data()).slice()
  const dims = [...t.shape]
  if (data instanceof Float32Array) return { dtype: 'float32', dims, data }
  if (data instanceof Int32Array) return { dtype: 'int32', dims, data }
  if (data instanceof Uint8Array) return { dtype: 'bool', dims, data }
  throw new EdgefleetError('validation_failed', `a tfjs output of dtype ${t.dtype} cannot cross the worker boundary`)
}
