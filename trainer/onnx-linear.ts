import onnxProto from 'onnx-proto'
import { encodeModel, floatTensor } from './onnx-graph.ts'

const { onnx } = onnxProto

/** A linear classifier's parameters and the names its ONNX graph uses. */
export interface LinearGraph {
  /** Name of the input tensor, float32 `[batch, width]`. */
  input: string
  /** Name of the output tensor, float32 `[batch, classes]` of probabilities. */
  output: string
  /** W, `width × classes`, row-major. */
  weights: Float32Array
  /** b, one per class. */
  bias: Float32Array
  width: number
  producer: string
}

/**
 * The ONNX bytes (IR 8, opset 13) of `softmax(x·W + b)`: one Gemm and one Softmax over axis 1, the
 * parameters stored as float32 initializers. Same parameters, same bytes (protobuf field order is fixed).
 *
 * @example linearSoftmaxOnnx({ input: 'features', output: 'weather', weights, bias, width: 4, producer: 'edgefleet-trainer' })
 */
export function linearSoftmaxOnnx(g: LinearGraph): Uint8Array {
  const classes = g.bias.length
  if (g.weights.length !== g.width * classes)
    throw new Error(`weights hold ${g.weights.length} values, not ${g.width}×${classes}`)
  if (g.input === g.output || [g.input, g.output].some((n) => n.startsWith('linear.')))
    throw new Error(`input and output names must differ and not start with "linear." (${g.input}, ${g.output})`)
  return encodeModel(g.producer, {
    name: 'linear_softmax',
    input: [floatTensor(g.input, ['batch', g.width])],
    output: [floatTensor(g.output, ['batch', classes])],
    node: [
      { name: 'gemm', opType: 'Gemm', input: [g.input, 'linear.W', 'linear.b'], output: ['linear.logits'] },
      {
        name: 'softmax',
        opType: 'Softmax',
        input: ['linear.logits'],
        output: [g.output],
        attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
      },
    ],
    initializer: [
      {
        name: 'linear.W',
        dims: [g.width, classes],
        dataType: onnx.TensorProto.DataType.FLOAT,
        floatData: Array.from(g.weights),
      },
      { name: 'linear.b', dims: [classes], dataType: onnx.TensorProto.DataType.FLOAT, floatData: Array.from(g.bias) },
    ],
  })
}
