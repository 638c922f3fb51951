import { describe, expect, it } from 'vitest'
import { compareOutputs, probeInputs, SELF_CHECK_TOLERANCE } from '../../../worker/engines/self-check.ts'
import type { TensorData } from '../../../worker/protocol.ts'

const f32 = (values: number[], dims = [values.length]): TensorData => ({
  dtype: 'float32',
  dims,
  data: Float32Array.from(values),
})

describe('WebGPU self-check', () => {
  it('passes within 1e-3 absolute for outputs of magnitude ≤ 1', () => {
    expect(compareOutputs({ p: f32([0.5, 0.2]) }, { p: f32([0.5009, 0.2]) })).toMatchObject({
      passed: true,
      output: 'p',
      tolerance: SELF_CHECK_TOLERANCE,
    })
    // docs/environment.md: SwiftShader's Silero v5 output, 0.0999 against WASM's 0.0664.
    expect(compareOutputs({ output: f32([0.0999]) }, { output: f32([0.0664]) })).toMatchObject({
      passed: false,
      output: 'output',
    })
  })

  it('scales the bound by the largest magnitude beyond 1 (relative 1e-3)', () => {
    expect(compareOutputs({ y: f32([1000.9, 3]) }, { y: f32([1000, 3]) }).passed).toBe(true)
    expect(compareOutputs({ y: f32([1001.1, 3]) }, { y: f32([1000, 3]) })).toMatchObject({
      passed: false,
      tolerance: 1,
    })
  })

  it('fails on NaN, on a missing output and on a different shape; names the worst output', () => {
    expect(compareOutputs({ y: f32([Number.NaN]) }, { y: f32([0]) })).toMatchObject({
      passed: false,
      maxAbsDiff: Infinity,
    })
    expect(compareOutputs({}, { y: f32([0]) }).passed).toBe(false)
    expect(compareOutputs({ y: f32([0, 0], [1, 2]) }, { y: f32([0, 0], [2, 1]) }).passed).toBe(false)
    expect(compareOutputs({ a: f32([0.1]), b: f32([0.5]) }, { a: f32([0.1]), b: f32([0.4]) })).toMatchObject({
      passed: false,
      output: 'b',
    })
  })

  it('builds a deterministic probe from the input specs: dynamic dims 1 (batch) and 32, floats in [0, 1), ints 0', () => {
    const specs = [
      { name: 'x', dtype: 'float32' as const, dims: [null, 3, null, null] },
      { name: 'sr', dtype: 'int64' as const, dims: [] },
    ]
    const a = probeInputs(specs)
    expect(a.x.dims).toEqual([1, 3, 32, 32])
    expect(a.sr).toEqual({ dtype: 'int64', dims: [], data: BigInt64Array.of(0n) })
    const xs = Array.from(a.x.data as Float32Array)
    expect(xs.every((v) => v >= 0 && v < 1)).toBe(true)
    expect(new Set(xs).size).toBeGreaterThan(xs.length * 0.9)
    expect(probeInputs(specs).x.data).toEqual(a.x.data)
    // A given probe input is used as it is.
    const sr: TensorData = { dtype: 'int64', dims: [], data: BigInt64Array.of(16000n) }
    expect(probeInputs(specs, { sr }).sr).toBe(sr)
  })
})
