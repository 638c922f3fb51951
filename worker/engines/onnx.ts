import type { InferenceSession, Tensor } from 'onnxruntime-web'
import type { Backend } from '../../core/formats/common.ts'
import { EdgefleetError } from '../../core/errors.ts'
import type { SelfCheck, TensorData, WebnnDeviceType } from '../protocol.ts'
import { isTensorDtype, unsupportedDtype } from '../tensor-data.ts'
import { BackendSkip, SerialQueue, type Engine, type EngineFamily, type ModelFiles, type TensorInfo } from './engine.ts'
import { onnxProbeModel } from './onnx-probe-model.ts'
import { ortBuild, releaseWasmBinary, type OrtBuildName, type OrtModule } from './ort-builds.ts'
import type { RuntimeFiles } from './runtime-files.ts'
import { goldenCheck, knownMismatch } from './self-check.ts'
import { deviceLost } from '../gpu.ts'
import { requireWebgpu } from './webgpu-gate.ts'
import { requireWebnn, webnnProvider } from './webnn-gate.ts'

/**
 * ONNX models on onnxruntime-web: `wasm` on the plain WASM build, `webgpu` on the WebGPU build
 * (imported only once a WebGPU adapter was found). A model's first WebGPU session must agree with the
 * WASM execution provider of the same build on a probe input, else it falls back as `webgpu_mismatch`.
 * `webnn` (opt-in) runs on the WebGPU build's WebNN execution provider once `navigator.ml` makes a
 * context of the device type asked for, held to the same golden check (`webnn_mismatch`).
 */
export function onnxFamily(files: RuntimeFiles): EngineFamily {
  return {
    name: 'onnx',
    async check(backend, { allowFallbackAdapter, webnnDeviceType }) {
      if (backend === 'webgpu') return requireWebgpu(allowFallbackAdapter)
      if (backend === 'webnn') return requireWebnn(webnnDeviceType)
      if (backend !== 'wasm')
        throw new BackendSkip('unsupported', `ONNX models run on webgpu, webnn or wasm, not ${backend}`)
    },
    async init(backend) {
      const build = buildOf(backend)
      const ort = await ortBuild(build, files)
      const probe = await ort.InferenceSession.create(onnxProbeModel(), { executionProviders: [provider(backend)] })
      await probe.release()
      releaseWasmBinary(ort, build, files)
    },
    async create(backend, model) {
      if (backend === 'webgpu' || backend === 'webnn') {
        const known = knownMismatch('onnx', model.name, backend)
        if (known !== undefined) throw known
      }
      const ort = await ortBuild(buildOf(backend), files)
      const { bytes, externalData } = modelBytes(model)
      const options: InferenceSession.SessionOptions = {
        executionProviders: [provider(backend, model.webnnDeviceType)],
        graphOptimizationLevel: 'all',
        externalData,
      }
      const session = await ort.InferenceSession.create(bytes, options)
      if (backend !== 'webgpu' && backend !== 'webnn') return new OnnxEngine(ort, session, backend)
      // Once a WebGPU session exists the build exposes the GPUDevice it runs on (one per worker).
      const lost = backend === 'webgpu' ? deviceLost(await ort.env.webgpu.device) : undefined
      const engine = new OnnxEngine(ort, session, backend, lost)
      // The WebGPU build carries the CPU (wasm) execution provider too: checking against it avoids
      // starting the 14 MB plain-WASM build on devices where WebGPU turns out fine.
      const reference = async () =>
        new OnnxEngine(
          ort,
          await ort.InferenceSession.create(bytes, { ...options, executionProviders: ['wasm'] }),
          'wasm',
        )
      try {
        engine.selfCheck = await goldenCheck('onnx', model.name, engine, reference, model.probe, backend)
        return engine
      } catch (e) {
        await engine.dispose()
        throw e
      }
    },
  }
}

/** The WebGPU build carries the WebNN execution provider too. */
function buildOf(backend: Backend): OrtBuildName {
  return backend === 'webgpu' || backend === 'webnn' ? 'webgpu' : 'wasm'
}

/** The execution provider of a backend, with WebNN's device type. */
function provider(backend: Backend, webnnDeviceType?: WebnnDeviceType): InferenceSession.ExecutionProviderConfig {
  return backend === 'webnn' ? webnnProvider(webnnDeviceType) : backend
}

/** The `.onnx` file (`model.onnx` if there are several) and every other file as external data. */
function modelBytes(model: ModelFiles): { bytes: Uint8Array; externalData: { path: string; data: Uint8Array }[] } {
  const paths = Object.keys(model.files)
  const main = paths.includes('model.onnx') ? 'model.onnx' : paths.find((p) => p.endsWith('.onnx'))
  if (main === undefined)
    throw new EdgefleetError('bad_request', `model ${model.name} has no .onnx file among: ${paths.join(', ')}`, {
      pointer: '/files',
    })
  const externalData = paths
    .filter((p) => p !== main)
    .map((path) => ({ path, data: new Uint8Array(model.files[path]) }))
  return { bytes: new Uint8Array(model.files[main]), externalData }
}

/** One onnxruntime-web session behind the Engine interface. */
class OnnxEngine implements Engine {
  readonly inputs: readonly TensorInfo[]
  readonly outputs: readonly TensorInfo[]
  selfCheck?: SelfCheck
  readonly #queue = new SerialQueue()

  constructor(
    private readonly ort: OrtModule,
    private readonly session: InferenceSession,
    readonly backend: Backend,
    readonly lost?: Promise<string>,
  ) {
    this.inputs = session.inputMetadata.map(tensorInfo)
    this.outputs = session.outputMetadata.map(tensorInfo)
  }

  run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    const ortFeeds: Record<string, Tensor> = {}
    for (const name in feeds) {
      const t = feeds[name]
      ortFeeds[name] = new this.ort.Tensor(t.dtype, t.data, t.dims)
    }
    return this.#queue.run(async () => {
      const results = await this.session.run(ortFeeds)
      const out: Record<string, TensorData> = {}
      for (const name in results) {
        const t = results[name]
        if (!isTensorDtype(t.type)) throw unsupportedDtype(name, t.type)
        // CPU-located outputs own their buffers (ORT copies them out of the WASM heap), so callers may transfer them.
        out[name] = { dtype: t.type, dims: [...t.dims], data: t.data as TensorData['data'] }
      }
      return out
    })
  }

  dispose(): Promise<void> {
    return this.#queue.run(() => this.session.release())
  }
}

/** ORT reports unknown dims as symbolic names or as 2^32 − 1 (−1 read unsigned). */
function tensorInfo(meta: InferenceSession.ValueMetadata): TensorInfo {
  if (!meta.isTensor) return { name: meta.name }
  const dims = meta.shape.map((d) => (typeof d === 'number' && d >= 0 && d < 2 ** 31 ? d : null))
  return { name: meta.name, dtype: isTensorDtype(meta.type) ? meta.type : undefined, dims }
}
