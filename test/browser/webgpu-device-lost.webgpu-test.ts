/**
 * A WebGPU device lost while a model runs on it (`browser-webgpu` project: Chromium with
 * `--enable-unsafe-webgpu`, here SwiftShader). The device is destroyed from inside the worker through a
 * test-only entry (support/gpu-losing-worker.ts) that reaches it by onnxruntime-web's
 * `env.webgpu.device`, as `GPUDevice.destroy()` is the one way a page can lose a device on purpose; a
 * driver reset reports `unknown` instead of `destroyed` and takes the same path.
 */
import { wrap, type Remote } from 'comlink'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createFleet, type Fleet } from '../../client/fleet.ts'
import type { FleetEvent } from '../../client/types.ts'
import { isEdgefleetError } from '../../core/errors.ts'
import type { Assignment } from '../../core/formats/assignment.ts'
import type { LoadRequest, ModelOutput, RuntimeAssets, WorkerApi } from '../../worker/protocol.ts'
import { demoWeather, PageEdge, weatherAssignment } from './support/page-edge.ts'
import { runtimeAssets } from './support/worker-client.ts'

/** The SDK's worker with the device-loss switch, as Vite serves a worker entry. */
const LOSING_WORKER_URL = new URL('/test/browser/support/gpu-losing-worker.ts?worker_file&type=module', location.origin)

/** Tells the worker's switch to destroy the device `now`, or on the `next-call`; resolves with its answer. */
function loseDevice(when: 'now' | 'next-call'): Promise<string> {
  const channel = new BroadcastChannel('edgefleet-gpu-loss')
  return new Promise((resolve) => {
    channel.onmessage = (e: MessageEvent<string>) => {
      channel.close()
      resolve(e.data)
    }
    channel.postMessage(when)
  })
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (isEdgefleetError(e) ? e.code : String(e)),
  )

const ROW = { precipitation: 0, temp_max: 12, temp_min: 5, wind: 3 }

/** Same class, and scores within the WebGPU self-check's tolerance (1e-3). */
function expectSameAnswer(got: ModelOutput, want: ModelOutput): void {
  if (got.kind !== 'classes' || want.kind !== 'classes') throw new Error('expected classes')
  expect(got.label).toBe(want.label)
  for (const [label, score] of Object.entries(want.scores)) expect(got.scores[label]).toBeCloseTo(score, 3)
}

describe('WebGPU device lost while a model runs', () => {
  let worker: Worker
  let api: Remote<WorkerApi>
  let runtime: RuntimeAssets
  let weather: Awaited<ReturnType<typeof demoWeather>>

  beforeAll(async () => {
    runtime = await runtimeAssets({ ortWasm: true, ortWebgpu: true })
    weather = await demoWeather()
  }, 120_000)
  afterAll(() => worker?.terminate())

  const request = (key: string, extra: Partial<LoadRequest> = {}): LoadRequest => ({
    key,
    model: 'weather',
    version: 1,
    role: 'primary',
    format: 'onnx',
    files: { 'model.onnx': weather.onnx.slice(0) },
    signature: weather.signature,
    allowFallbackAdapter: true,
    runtime,
    ...extra,
  })

  test('models on the lost device move to WASM and answer; a WebGPU-only model fails with a stable code; later loads skip WebGPU', async () => {
    worker = new Worker(LOSING_WORKER_URL, { type: 'module' })
    api = wrap<WorkerApi>(worker)
    const loaded = await api.load(request('weather-a'))
    // Gemm and Softmax agree with WASM on SwiftShader: the model runs on WebGPU.
    expect(loaded).toMatchObject({ backend: 'webgpu', fallbacks: {}, selfCheck: { passed: true } })
    const gpuOnly = await api.load(request('weather-gpu-only', { backends: ['webgpu'] }))
    expect(gpuOnly.backend).toBe('webgpu')
    const before = await api.predict('weather-a', ROW)
    expect(before.backendChange).toBeUndefined()

    expect(await loseDevice('now')).toBe('lost')

    const after = await api.predict('weather-a', ROW)
    expectSameAnswer(after.output, before.output)
    expect(after.backendChange).toMatchObject({ backend: 'wasm', fallbacks: { webgpu: 'device_lost' } })
    expect(after.backendChange?.fallbackDetails.webgpu).toMatch(/^device_lost: device lost \(destroyed\)/)
    // Every later answer says so too, and a batch runs on WASM as well.
    const batch = await api.predictBatch('weather-a', [ROW, { ...ROW, precipitation: 20 }])
    expect(batch.map((r) => r.backendChange?.backend)).toEqual(['wasm', 'wasm'])

    // No other backend was allowed: this call and the next reject with the same code.
    expect(await codeOf(api.predict('weather-gpu-only', ROW))).toBe('backend_unavailable')
    expect(await codeOf(api.predict('weather-gpu-only', ROW))).toBe('backend_unavailable')

    // The device is gone for this worker: a new load goes straight to WASM and says why.
    const later = await api.load(request('weather-b'))
    expect(later).toMatchObject({ backend: 'wasm', fallbacks: { webgpu: 'device_lost' } })
    expectSameAnswer((await api.predict('weather-b', ROW)).output, before.output)

    // Counts: every call answered counts once, the failed ones as errors; none twice.
    expect(await api.collect('weather-a')).toMatchObject({ inferences: 4, errors: 0 })
    expect(await api.collect('weather-gpu-only')).toMatchObject({ inferences: 2, errors: 2 })
    await api.unload('weather-a')
    await api.unload('weather-gpu-only')
  }, 300_000)

  test('through the SDK: the call in flight is answered on WASM, the app is told, telemetry reports the new backend', async () => {
    // The first test's worker has a switch on the same channel: gone before this one arms the fleet's.
    worker?.terminate()
    const edge = new PageEdge()
    const assignment: Assignment = await weatherAssignment(edge)
    edge.assignments.set('weather', assignment)
    const events: FleetEvent[] = []
    const fleet: Fleet = createFleet({
      endpoint: edge.origin,
      appKey: 'ef_test_key',
      fetch: edge.fetch,
      workerUrl: LOSING_WORKER_URL,
      dbName: `webgpu-device-lost-${Date.now()}`,
      onEvent: (e) => events.push(e),
      random: () => 0,
    })
    try {
      const model = await fleet.load('weather', { backends: ['webgpu', 'wasm'], allowFallbackAdapter: true })
      expect(model.backend).toEqual({ backend: 'webgpu', fallbacks: {} })
      const first = await model.predict(ROW)
      expect(first.backend).toBe('webgpu')

      // The device is destroyed once the worker has received the next call, before it runs it.
      expect(await loseDevice('next-call')).toBe('armed')
      const inFlight = await model.predict(ROW)
      expect(inFlight.backend).toBe('wasm')
      expectSameAnswer(inFlight.output, first.output)
      expect(model.backend).toEqual({ backend: 'wasm', fallbacks: { webgpu: 'device_lost' } })
      expect(events.filter((e) => e.type === 'fallback')).toEqual([
        {
          type: 'fallback',
          model: 'weather',
          version: 1,
          from: 'webgpu',
          backend: 'wasm',
          fallbacks: { webgpu: 'device_lost' },
        },
      ])
      const next = await model.predict(ROW)
      expect(next.backend).toBe('wasm')

      await fleet.flush()
      const reports = edge.reports().filter((r) => r.model === 'weather')
      const byBackend = (backend: string) =>
        reports.filter((r) => r.backend === backend).reduce((n, r) => n + r.counts.inferences, 0)
      // The call in flight counts where it was sent (WebGPU); the ones after the change under WASM
      // with its reason. Three calls, three inferences, none lost or doubled.
      expect(byBackend('webgpu')).toBe(2)
      expect(byBackend('wasm')).toBe(1)
      expect(reports.find((r) => r.backend === 'wasm')?.fallbacks).toEqual({ webgpu: 'device_lost' })
      expect(reports.reduce((n, r) => n + r.counts.errors, 0)).toBe(0)
    } finally {
      await fleet.close()
    }
  }, 300_000)
})
