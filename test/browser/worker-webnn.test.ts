import type { Remote } from 'comlink'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { deviceCaps } from '../../client/device-caps.ts'
import { encodeCaps } from '../../core/caps.ts'
import type { RuntimeAssets, WorkerApi } from '../../worker/protocol.ts'
import { fetchBytes, runtimeAssets, startWorker } from './support/worker-client.ts'

const SILERO = '/node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx'

let api: Remote<WorkerApi>
let worker: Worker
let runtime: RuntimeAssets
let silero: ArrayBuffer

beforeAll(async () => {
  ;({ api, worker } = startWorker())
  ;[runtime, silero] = await Promise.all([runtimeAssets({ ortWasm: true }), fetchBytes(SILERO)])
}, 120_000)

afterAll(() => worker.terminate())

describe('the opt-in webnn backend in this Chromium', () => {
  test('WebNN is detected as missing (no navigator.ml) and the load falls back to wasm as not_available', async () => {
    // This Chromium ships WebNN behind a flag that is off: the page (and so the worker) has no navigator.ml.
    expect((navigator as { ml?: unknown }).ml).toBeUndefined()
    expect((await api.capabilities()).webnn).toBe(false) // so the device never fits a webnn variant
    const loaded = await api.load({
      key: 'vad-webnn',
      model: 'vad',
      version: 1,
      role: 'primary',
      format: 'onnx',
      files: { 'model.onnx': silero.slice(0) },
      runtime,
      backends: ['webnn', 'wasm'],
      webnnDeviceType: 'npu',
    })
    expect(loaded.backend).toBe('wasm')
    expect(loaded.fallbacks).toEqual({ webnn: 'not_available' })
    expect(loaded.fallbackDetails.webnn).toBe(
      'not_available: navigator.ml is missing: this browser does not expose WebNN',
    )
  }, 60_000)

  test('the device reports WebNN only when its worker exposes navigator.ml', () => {
    const worker = { webgpu: false, fallbackAdapter: false, f16: false, cores: 4 }
    expect(deviceCaps({ ...worker, webnn: true }).webnn).toBe(true)
    expect(encodeCaps(deviceCaps({ ...worker, webnn: true }))).toMatch(/^webgpu:0,f16:0,webnn:1,/)
    expect(deviceCaps({ ...worker, webnn: false })).not.toHaveProperty('webnn')
    expect(encodeCaps(deviceCaps({ ...worker, webnn: false }))).not.toContain('webnn')
  })
})
