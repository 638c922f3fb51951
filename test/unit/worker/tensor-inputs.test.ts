import { describe, expect, it } from 'vitest'
import type { TensorInfo } from '../../../worker/engines/engine.ts'
import type { TensorData } from '../../../worker/protocol.ts'
import { checkTensorInputs } from '../../../worker/tensor-inputs.ts'
import { sampleCount, summarizeSample } from '../../../worker/tensor-summary.ts'
import { seededNormal, seededRandom } from '../../../scripts/lib/random.ts'

const specs: TensorInfo[] = [
  { name: 'input', dtype: 'float32', dims: [null, null] },
  { name: 'state', dtype: 'float32', dims: [2, null, 128] },
  { name: 'sr', dtype: 'int64', dims: [] },
]
const good = (): Record<string, TensorData> => ({
  input: { dtype: 'float32', dims: [1, 512], data: new Float32Array(512) },
  state: { dtype: 'float32', dims: [2, 1, 128], data: new Float32Array(256) },
  sr: { dtype: 'int64', dims: [], data: BigInt64Array.of(16000n) },
})

describe('checkTensorInputs', () => {
  it('accepts tensors that fit the declared dtypes and shapes (dynamic dims free)', () => {
    expect(Object.keys(checkTensorInputs(specs, good(), '/input'))).toEqual(['input', 'state', 'sr'])
  })

  it.each([
    ['an unknown name', { ...good(), audio: good().input }, '/input/audio', /unknown input "audio"/],
    ['a missing input', { input: good().input, state: good().state }, '/input/sr', /missing/],
    [
      'a wrong dtype',
      { ...good(), sr: { dtype: 'int32', dims: [], data: Int32Array.of(1) } },
      '/input/sr/dtype',
      /takes int64/,
    ],
    [
      'a wrong rank',
      { ...good(), state: { dtype: 'float32', dims: [2, 128], data: new Float32Array(256) } },
      '/input/state/dims',
      /do not fit/,
    ],
    [
      'a wrong fixed dim',
      { ...good(), state: { dtype: 'float32', dims: [1, 2, 128], data: new Float32Array(256) } },
      '/input/state/dims',
      /\[2, \?, 128\]/,
    ],
    [
      'too little data',
      { ...good(), input: { dtype: 'float32', dims: [1, 512], data: new Float32Array(3) } },
      '/input/input/data',
      /need 512 values/,
    ],
    [
      'the wrong array type',
      { ...good(), input: { dtype: 'float32', dims: [1, 2], data: [0, 1] } },
      '/input/input/data',
      /Float32Array/,
    ],
    ['not a tensor', { ...good(), input: 3 }, '/input/input/dtype', /not a tensor/],
  ])('rejects %s as bad_request at its pointer', (_, input, pointer, message) => {
    expect(() => checkTensorInputs(specs, input as never, '/input')).toThrow(
      expect.objectContaining({ code: 'bad_request', pointer, message: expect.stringMatching(message) }),
    )
  })
})

describe('summarizeSample', () => {
  it('gives each first-axis sample its mean, population std, min and max', () => {
    const normal = seededNormal(seededRandom(3))
    const values = Float32Array.from({ length: 3 * 100 }, () => 1000 + normal())
    const t: TensorData = { dtype: 'float32', dims: [3, 10, 10], data: values }
    expect(sampleCount(t)).toBe(3)
    const out = new Float64Array(4)
    for (let s = 0; s < 3; s++) {
      summarizeSample(t, s, out)
      const xs = Array.from(values.subarray(s * 100, (s + 1) * 100))
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length
      const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length)
      expect(out[0]).toBeCloseTo(mean, 9)
      expect(out[1]).toBeCloseTo(std, 9)
      expect([out[2], out[3]]).toEqual([Math.min(...xs), Math.max(...xs)])
    }
  })

  it('treats a vector or a scalar as one sample and reads int64', () => {
    const t: TensorData = { dtype: 'int64', dims: [], data: BigInt64Array.of(16000n) }
    expect(sampleCount(t)).toBe(1)
    const out = new Float64Array(4)
    summarizeSample(t, 0, out)
    expect(Array.from(out)).toEqual([16000, 0, 16000, 16000])
  })
})
