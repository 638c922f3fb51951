import onnxProto from 'onnx-proto'
import { encodeModel, floatTensor } from './onnx-graph.ts'

const { onnx } = onnxProto

/** One dense layer: `W` is `inputs × outputs`, row-major; `b` one per output. */
export interface DenseLayer {
  weights: Float32Array
  bias: Float32Array
  inputs: number
}

/** A multilayer perceptron's parameters and the names its ONNX graph uses. */
export interface MlpGraph {
  /** Name of the input tensor, float32 `[batch, width]`. */
  input: string
  /** Name of the output tensor, float32 `[batch, classes]` of probabilities. */
  output: string
  /** Hidden layers (ReLU after each) then the output layer (softmax after it). */
  layers: DenseLayer[]
  producer: string
}

/**
 * The ONNX bytes (IR 8, opset 13) of `softmax(relu(…relu(x·W₁ + b₁)…)·Wₙ + bₙ)`: one Gemm per layer,
 * Relu between them and Softmax over axis 1 at the end, parameters as float32 initializers. Same
 * parameters, same bytes.
 */
export function mlpSoftmaxOnnx(g: MlpGraph): Uint8Array {
  if (g.layers.length === 0) throw new Error('an MLP needs at least one layer')
  if (g.input === g.output || [g.input, g.output].some((n) => n.startsWith('mlp.')))
    throw new Error(`input and output names must differ and not start with "mlp." (${g.input}, ${g.output})`)
  let width = g.layers[0]!.inputs
  const nodes: object[] = []
  const initializer: object[] = []
  let x = g.input
  g.layers.forEach((layer, i) => {
    const outputs = layer.bias.length
    if (layer.inputs !== width || layer.weights.length !== layer.inputs * outputs)
      throw new Error(`layer ${i}: ${layer.weights.length} weights for ${width} inputs and ${outputs} outputs`)
    const last = i === g.layers.length - 1
    initializer.push(
      {
        name: `mlp.W${i}`,
        dims: [width, outputs],
        dataType: onnx.TensorProto.DataType.FLOAT,
        floatData: Array.from(layer.weights),
      },
      {
        name: `mlp.b${i}`,
        dims: [outputs],
        dataType: onnx.TensorProto.DataType.FLOAT,
        floatData: Array.from(layer.bias),
      },
    )
    nodes.push({ name: `gemm${i}`, opType: 'Gemm', input: [x, `mlp.W${i}`, `mlp.b${i}`], output: [`mlp.z${i}`] })
    if (last)
      nodes.push({
        name: 'softmax',
        opType: 'Softmax',
        input: [`mlp.z${i}`],
        output: [g.output],
        attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
      })
    else nodes.push({ name: `relu${i}`, opType: 'Relu', input: [`mlp.z${i}`], output: [`mlp.h${i}`] })
    x = `mlp.h${i}`
    width = outputs
  })
  return encodeModel(g.producer, {
    name: 'mlp_softmax',
    input: [floatTensor(g.input, ['batch', g.layers[0]!.inputs])],
    output: [floatTensor(g.output, ['batch', width])],
    node: nodes,
    initializer,
  })
}

/** The same function in float64 JavaScript: what the trainer computes, to compare the ONNX file against. */
export function mlpForward(layers: readonly DenseLayer[], row: ArrayLike<number>): number[] {
  let h = Array.from(row)
  layers.forEach((layer, i) => {
    const outputs = layer.bias.length
    const z = Array.from({ length: outputs }, (_, o) => {
      let s = layer.bias[o]!
      for (let k = 0; k < layer.inputs; k++) s += h[k]! * layer.weights[k * outputs + o]!
      return s
    })
    h = i === layers.length - 1 ? z : z.map((v) => Math.max(0, v))
  })
  const max = Math.max(...h)
  const e = h.map((v) => Math.exp(v - max))
  const sum = e.reduce((a, b) => a + b, 0)
  return e.map((v) => v / sum)
}
