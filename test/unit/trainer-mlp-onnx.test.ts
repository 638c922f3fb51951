// The MLP's ONNX export: the file run by onnxruntime-web (WASM, as the SDK runs it) gives the same
// probabilities as the network's own forward pass, within 1e-5, on seeded random weights and inputs.
import * as ort from 'onnxruntime-web'
import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../scripts/lib/random.ts'
import { mlpForward, mlpSoftmaxOnnx, type DenseLayer } from '../../trainer/onnx-mlp.ts'

ort.env.wasm.numThreads = 1

function layer(random: () => number, inputs: number, outputs: number): DenseLayer {
  return {
    inputs,
    weights: Float32Array.from({ length: inputs * outputs }, () => (random() - 0.5) * 2),
    bias: Float32Array.from({ length: outputs }, () => random() - 0.5),
  }
}

describe('mlpSoftmaxOnnx', () => {
  it('matches the forward pass within 1e-5 in onnxruntime-web', async () => {
    const random = seededRandom(11)
    const layers = [layer(random, 6, 16), layer(random, 16, 8), layer(random, 8, 4)]
    const bytes = mlpSoftmaxOnnx({ input: 'features', output: 'weather', layers, producer: 'edgefleet-trainer' })
    const session = await ort.InferenceSession.create(bytes)
    const rows = 64
    const x = Float32Array.from({ length: rows * 6 }, () => (random() - 0.5) * 6)
    const out = await session.run({ features: new ort.Tensor('float32', x, [rows, 6]) })
    const got = out.weather!.data as Float32Array
    expect(out.weather!.dims).toEqual([rows, 4])
    let worst = 0
    for (let r = 0; r < rows; r++) {
      const want = mlpForward(layers, x.subarray(r * 6, r * 6 + 6))
      want.forEach((p, c) => (worst = Math.max(worst, Math.abs(p - got[r * 4 + c]!))))
    }
    expect(worst).toBeLessThan(1e-5)
  })

  it('is deterministic and refuses mismatched layers', () => {
    const random = seededRandom(3)
    const layers = [layer(random, 3, 5), layer(random, 5, 2)]
    const g = { input: 'x', output: 'y', layers, producer: 'p' }
    expect(mlpSoftmaxOnnx(g)).toEqual(mlpSoftmaxOnnx(g))
    expect(() => mlpSoftmaxOnnx({ ...g, layers: [layer(random, 3, 5), layer(random, 4, 2)] })).toThrow(/layer 1/)
  })
})
