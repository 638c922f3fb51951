import { describe, expect, it } from 'vitest'
import { Report } from '../../core/formats/telemetry.ts'
import { isOutOfMemory } from '../../client/health/out-of-memory.ts'
import { ReportBuilder, type ReportTarget } from '../../client/telemetry/report-builder.ts'

const target: ReportTarget = { model: 'weather', version: 3, role: 'primary', backend: 'webgpu', fallbacks: {} }

describe('out-of-memory failures', () => {
  it.each([
    ['wasm heap that cannot grow', new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded')],
    ['array buffer allocation', new RangeError('Array buffer allocation failed')],
    ['ORT allocator', new Error("Can't create a session. failed to allocate a buffer of size 2147483648")],
    ['Emscripten abort', new Error('Aborted(OOM). Build with -sASSERTIONS for more info.')],
    ['WebGPU', Object.assign(new Error('GPU buffer'), { name: 'GPUOutOfMemoryError' })],
    ['wrapped by the worker', new Error('model_invalid', { cause: new Error('std::bad_alloc') })],
  ])('counts a %s', (_name, e) => expect(isOutOfMemory(e)).toBe(true))

  it.each([
    ['bad argument RangeError', new RangeError('Invalid array length index 7')],
    ['integrity error', new Error('sha256 mismatch')],
    ['not an error', 'oops'],
    ['nothing', undefined],
  ])('does not count a %s', (_name, e) => expect(isOutOfMemory(e)).toBe(false))
})

describe('health counts in reports', () => {
  it('reports health events alone, in the minute they happened, valid telemetry/1', () => {
    const b = new ReportBuilder()
    const t0 = 1_717_423_200_000
    b.addHealth(target, 'deviceLost', t0 + 5_000)
    b.addHealth(target, 'oomRun', t0 + 59_000)
    b.addHealth(target, 'loadAbandoned', t0 + 61_000)
    const reports = b.drain().map((r) => Report.parse(r))
    expect(reports.map((r) => [r.window.start - t0, r.counts.loads, r.health])).toEqual([
      [0, 0, { deviceLost: 1, oomLoad: 0, oomRun: 1, workerCrash: 0, loadAbandoned: 0 }],
      [60_000, 0, { deviceLost: 0, oomLoad: 0, oomRun: 0, workerCrash: 0, loadAbandoned: 1 }],
    ])
  })

  it('leaves health out of a report without events', () => {
    const b = new ReportBuilder()
    b.addFailedLoad(target, 1_717_423_200_000, 12)
    expect(b.drain()[0]).not.toHaveProperty('health')
  })
})
