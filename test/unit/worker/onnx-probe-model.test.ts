import * as ort from 'onnxruntime-web'
import { describe, expect, it } from 'vitest'
import { onnxProbeModel } from '../../../worker/engines/onnx-probe-model.ts'
import { onnxModel } from '../../helpers/onnx-model.ts'

describe('the ONNX probe model the worker starts backends with', () => {
  it('is Identity(x) on float32 [1], as onnx-proto writes it', () => {
    const rebuilt = onnxModel({
      producer: 'edgefleet',
      inputs: [{ name: 'x', dtype: 'float32', dims: [1] }],
      outputs: [{ name: 'y', dtype: 'float32', dims: [1] }],
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
    })
    expect(onnxProbeModel()).toEqual(rebuilt)
  })

  it('runs in onnxruntime-web', async () => {
    const session = await ort.InferenceSession.create(onnxProbeModel())
    const { y } = await session.run({ x: new ort.Tensor('float32', Float32Array.of(2.5), [1]) })
    expect(Array.from(y.data as Float32Array)).toEqual([2.5])
    await session.release()
  })
})
