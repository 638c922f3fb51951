/**
 * The device-loss rules of FallbackEngine with scripted engines: when the loss is announced relative
 * to a run, a rebuild that fails, and disposal. The real path (a SwiftShader device destroyed under
 * onnxruntime-web) is test/browser/webgpu-device-lost.webgpu-test.ts.
 */
import { describe, expect, it } from 'vitest'
import { EdgefleetError, isEdgefleetError } from '../../../core/errors.ts'
import type { Backend } from '../../../core/formats/common.ts'
import type { Engine } from '../../../worker/engines/engine.ts'
import { FallbackEngine, type LosableEngine } from '../../../worker/engines/fallback-engine.ts'
import type { TensorData } from '../../../worker/protocol.ts'

const out = (v: number): Record<string, TensorData> => ({
  y: { dtype: 'float32', dims: [1], data: Float32Array.of(v) },
})
const valueOf = (r: Record<string, TensorData>) => r.y.data[0]

/** An engine answering `value`, or as `run` says; counts its runs and disposals. */
function engine(backend: Backend, value: number, run?: () => Promise<Record<string, TensorData>>) {
  const stats = { runs: 0, disposed: 0 }
  const e: Engine = {
    backend,
    inputs: [{ name: 'x' }],
    outputs: [{ name: 'y' }],
    run: async () => {
      stats.runs++
      return run ? run() : out(value)
    },
    dispose: async () => {
      stats.disposed++
    },
  }
  return { e, stats }
}

/** A GPU engine whose device the test loses with `lose(detail)`. */
function gpuEngine(run?: () => Promise<Record<string, TensorData>>) {
  let lose!: (detail: string) => void
  const lost = new Promise<string>((resolve) => (lose = resolve))
  const { e, stats } = engine('webgpu', 1, run)
  return { e: { ...e, lost } as LosableEngine, stats, lose }
}

const change = { fallbacks: { webgpu: 'device_lost' as const }, fallbackDetails: { webgpu: 'device_lost: gone' } }

describe('FallbackEngine', () => {
  it('runs on the GPU engine until the loss, then rebuilds once, at once, and runs on the new engine', async () => {
    const gpu = gpuEngine()
    const wasm = engine('wasm', 2)
    const details: string[] = []
    const f = new FallbackEngine(gpu.e, async (detail) => {
      details.push(detail)
      return { engine: wasm.e, backend: 'wasm', ...change }
    })
    expect(valueOf(await f.run({}))).toBe(1)
    expect(f.change).toBeUndefined()
    gpu.lose('device lost (unknown)')
    // Once announced (the engine heard of it before any caller could).
    await gpu.e.lost
    expect(valueOf(await f.run({}))).toBe(2)
    expect(valueOf(await f.run({}))).toBe(2)
    expect(details).toEqual(['device lost (unknown)'])
    expect(f.backend).toBe('wasm')
    expect(f.change).toEqual({ backend: 'wasm', ...change })
    expect(gpu.stats).toEqual({ runs: 1, disposed: 1 })
    expect(wasm.stats.runs).toBe(2)
  })

  it('answers a run that never settles on the lost device from the new engine', async () => {
    const gpu = gpuEngine(() => new Promise(() => {}))
    const wasm = engine('wasm', 2)
    const f = new FallbackEngine(gpu.e, async () => ({ engine: wasm.e, backend: 'wasm', ...change }))
    const inFlight = f.run({})
    gpu.lose('device lost (destroyed)')
    expect(valueOf(await inFlight)).toBe(2)
  })

  it('answers a run that failed just before the loss was announced from the new engine', async () => {
    const gpu = gpuEngine(async () => {
      // The device's failure surfaces first; its loss is announced by a later task.
      setTimeout(() => gpu.lose('device lost (destroyed)'), 0)
      throw new Error('GPU buffer mapping failed')
    })
    const wasm = engine('wasm', 2)
    const f = new FallbackEngine(gpu.e, async () => ({ engine: wasm.e, backend: 'wasm', ...change }))
    expect(valueOf(await f.run({}))).toBe(2)
  })

  it('passes on a run failure of its own when the device stays', async () => {
    const gpu = gpuEngine(async () => {
      throw new Error('bad input')
    })
    const f = new FallbackEngine(gpu.e, async () => {
      throw new Error('never rebuilt')
    })
    await expect(f.run({})).rejects.toThrow('bad input')
  })

  it('rejects this call and every later one with the rebuild error when no backend takes the model', async () => {
    const gpu = gpuEngine()
    let rebuilds = 0
    const f = new FallbackEngine(gpu.e, async () => {
      rebuilds++
      throw new EdgefleetError('backend_unavailable', 'no other backend is allowed')
    })
    gpu.lose('device lost (destroyed)')
    await gpu.e.lost
    for (let i = 0; i < 2; i++) {
      const e = await f.run({}).catch((x: unknown) => x)
      expect(isEdgefleetError(e) && e.code).toBe('backend_unavailable')
    }
    expect(rebuilds).toBe(1)
    await f.dispose()
  })

  it('disposes the new engine on dispose, also one still being built', async () => {
    const gpu = gpuEngine()
    const wasm = engine('wasm', 2)
    let finish!: () => void
    const f = new FallbackEngine(gpu.e, async () => {
      await new Promise<void>((resolve) => (finish = resolve))
      return { engine: wasm.e, backend: 'wasm', ...change }
    })
    gpu.lose('device lost (destroyed)')
    await gpu.e.lost
    const disposed = f.dispose()
    finish()
    await disposed
    expect(wasm.stats.disposed).toBe(1)
  })
})
