import { describe, expect, it } from 'vitest'
import { EdgefleetError } from '../../../core/errors.ts'
import type { Backend } from '../../../core/formats/common.ts'
import { BackendSkip, type Engine, type EngineFamily } from '../../../worker/engines/engine.ts'
import { BackendInits, selectBackend } from '../../../worker/engines/select.ts'

/** A scripted engine family: what each step does per backend, and how often each step ran. */
function family(script: {
  check?: Partial<Record<Backend, () => void>>
  init?: Partial<Record<Backend, () => Promise<void>>>
  create?: Partial<Record<Backend, () => void>>
}) {
  const calls = { init: [] as Backend[], create: [] as Backend[] }
  const f: EngineFamily = {
    name: 'fake',
    async check(backend) {
      script.check?.[backend]?.()
    },
    async init(backend) {
      calls.init.push(backend)
      await script.init?.[backend]?.()
    },
    async create(backend) {
      calls.create.push(backend)
      script.create?.[backend]?.()
      return { backend, inputs: [], outputs: [], run: async () => ({}), dispose: async () => {} } satisfies Engine
    },
  }
  return { f, calls }
}

const model = { name: 'm@1', files: {} }
const options = { allowFallbackAdapter: false }

describe('selectBackend', () => {
  it('takes the first backend that passes check, init and create, recording why earlier ones were skipped', async () => {
    const { f } = family({
      check: {
        webgpu: () => {
          throw new BackendSkip('fallback_adapter', 'software adapter')
        },
      },
      create: {
        webgl: () => {
          throw new Error('shader compile error')
        },
      },
    })
    const s = await selectBackend(f, ['webgpu', 'webgl', 'wasm', 'cpu'], new BackendInits(), model, options)
    expect(s.engine.backend).toBe('wasm')
    expect(s.fallbacks).toEqual({ webgpu: 'fallback_adapter', webgl: 'create_failed' })
    expect(s.fallbackDetails).toEqual({
      webgpu: 'fallback_adapter: software adapter',
      webgl: 'create_failed: shader compile error',
    })
  })

  it('starts each backend once, also for concurrent loads', async () => {
    const { f, calls } = family({ init: { wasm: () => new Promise((r) => setTimeout(r, 10)) } })
    const inits = new BackendInits()
    await Promise.all([1, 2, 3].map(() => selectBackend(f, ['wasm'], inits, model, options)))
    expect(calls.init).toEqual(['wasm'])
    expect(calls.create).toEqual(['wasm', 'wasm', 'wasm'])
  })

  it('never retries a backend whose start failed, but retries one that lacked runtime files', async () => {
    let filesGiven = false
    const { f, calls } = family({
      init: {
        webgl: async () => {
          throw new Error('context lost')
        },
        wasm: async () => {
          if (!filesGiven) throw new BackendSkip('missing_runtime', 'no tfjsWasm')
        },
      },
    })
    const inits = new BackendInits()
    const first = await selectBackend(f, ['webgl', 'wasm', 'cpu'], inits, model, options)
    expect(first.fallbacks).toEqual({ webgl: 'init_failed', wasm: 'missing_runtime' })
    filesGiven = true
    const second = await selectBackend(f, ['webgl', 'wasm', 'cpu'], inits, model, options)
    expect(second.engine.backend).toBe('wasm')
    expect(second.fallbackDetails.webgl).toBe('init_failed: context lost')
    expect(calls.init.filter((b) => b === 'webgl')).toHaveLength(1)
    expect(calls.init.filter((b) => b === 'wasm')).toHaveLength(2)
  })

  it('throws backend_unavailable naming every backend and its reason when all fail', async () => {
    const { f } = family({
      check: {
        webgpu: () => {
          throw new BackendSkip('not_available', 'no adapter')
        },
      },
      init: {
        wasm: async () => {
          throw new Error('CompileError: bad magic')
        },
      },
    })
    const error = await selectBackend(f, ['webgpu', 'wasm'], new BackendInits(), model, options).catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(EdgefleetError)
    expect(error).toMatchObject({
      code: 'backend_unavailable',
      details: { data: { reasons: { webgpu: 'not_available', wasm: 'init_failed' } } },
    })
    expect((error as Error).message).toBe(
      'no backend could run m@1 (fake): webgpu: not_available: no adapter; wasm: init_failed: CompileError: bad magic',
    )
  })

  it('lets a bad model (an EdgefleetError from create) through instead of trying further backends', async () => {
    const { f, calls } = family({
      create: {
        webgpu: () => {
          throw new EdgefleetError('bad_request', 'no .onnx file')
        },
      },
    })
    await expect(selectBackend(f, ['webgpu', 'wasm'], new BackendInits(), model, options)).rejects.toMatchObject({
      code: 'bad_request',
    })
    expect(calls.create).toEqual(['webgpu'])
  })

  it('carries a failed WebGPU self-check into the error and the selection', async () => {
    const check = { passed: false, maxAbsDiff: 0.03, tolerance: 0.001, output: 'y' }
    const { f } = family({
      create: {
        webgpu: () => {
          throw new BackendSkip('webgpu_mismatch', 'differs', check)
        },
      },
    })
    const s = await selectBackend(f, ['webgpu', 'wasm'], new BackendInits(), model, options)
    expect(s).toMatchObject({ fallbacks: { webgpu: 'webgpu_mismatch' }, selfCheck: check })
    await expect(selectBackend(f, ['webgpu'], new BackendInits(), model, options)).rejects.toMatchObject({
      details: { data: { selfCheck: check } },
    })
  })
})
