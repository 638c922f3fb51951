import onnxProto from 'onnx-proto'

/**
 * Writes small real ONNX models (ModelProto bytes) for tests, with onnx-proto's generated protobuf
 * classes: an independent writer, so the worker is tested against files it did not produce.
 */
const { onnx } = onnxProto

type Dtype = 'float32' | 'int64'
const DTYPE: Record<Dtype, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
}

/** A graph input or output: dims are sizes, or names for dynamic dimensions. */
export interface ValueSpec {
  name: string
  dtype: Dtype
  dims: (number | string)[]
}

/** A node; attributes are ints, floats or int lists. */
export interface NodeSpec {
  op: string
  inputs: string[]
  outputs: string[]
  attributes?: Record<string, { i: number } | { f: number } | { ints: number[] }>
}

/** A constant float32 tensor stored in the graph. */
export interface Initializer {
  name: string
  dims: number[]
  values: ArrayLike<number>
}

/** A whole graph: inputs, outputs, nodes and constant tensors. */
export interface GraphSpec {
  inputs: ValueSpec[]
  outputs: ValueSpec[]
  nodes: NodeSpec[]
  initializers?: Initializer[]
  opset?: number
  producer?: string
}

/** The bytes of an ONNX model (IR 8, default opset `opset`). */
export function onnxModel(graph: GraphSpec): Uint8Array {
  return encodeModel(graph, (t) => ({ floatData: Array.from(t.values) }))
}

/**
 * The same model with its initializers' bytes in a separate external-data file (ONNX's
 * `data_location: EXTERNAL`: `location`, `offset` and `length` per tensor, raw little-endian float32,
 * each tensor at a 64-byte aligned offset), as PyTorch's exporter writes models over 2 GB.
 */
export function onnxModelWithExternalData(graph: GraphSpec, location: string): { model: Uint8Array; data: Uint8Array } {
  const chunks: { offset: number; bytes: Uint8Array }[] = []
  let end = 0
  const model = encodeModel(graph, (t) => {
    const bytes = new Uint8Array(Float32Array.from(t.values).buffer)
    const offset = Math.ceil(end / 64) * 64
    chunks.push({ offset, bytes })
    end = offset + bytes.length
    return {
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.length) },
      ],
    }
  })
  const data = new Uint8Array(end)
  for (const c of chunks) data.set(c.bytes, c.offset)
  return { model, data }
}

function encodeModel(graph: GraphSpec, tensorData: (t: Initializer) => Record<string, unknown>): Uint8Array {
  const valueInfo = (v: ValueSpec) => ({
    name: v.name,
    type: {
      tensorType: {
        elemType: DTYPE[v.dtype],
        shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  })
  const attribute = (name: string, a: { i: number } | { f: number } | { ints: number[] }) =>
    'i' in a
      ? { name, type: onnx.AttributeProto.AttributeType.INT, i: a.i }
      : 'f' in a
        ? { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: a.f }
        : { name, type: onnx.AttributeProto.AttributeType.INTS, ints: a.ints }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: graph.producer ?? 'edgefleet-tests',
    opsetImport: [{ domain: '', version: graph.opset ?? 13 }],
    graph: {
      name: 'g',
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
      node: graph.nodes.map((n, i) => ({
        name: `n${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([k, a]) => attribute(k, a)),
      })),
      initializer: (graph.initializers ?? []).map((t) => ({
        name: t.name,
        dims: t.dims,
        dataType: onnx.TensorProto.DataType.FLOAT,
        ...tensorData(t),
      })),
    },
  })
  // A standalone copy: in Node, protobufjs hands out a Buffer that may be a view of a shared pool.
  return Uint8Array.from(onnx.ModelProto.encode(model).finish())
}

/**
 * A linear classifier `softmax(x·W + b)` (or logits with `activation: 'none'`): input `x`
 * float32 [batch, width], output `probs` [batch, classes]. W is width×classes, row-major.
 */
export function linearClassifier(
  weights: ArrayLike<number>,
  bias: ArrayLike<number>,
  width: number,
  softmax = true,
): Uint8Array {
  const classes = bias.length
  const nodes: NodeSpec[] = [{ op: 'Gemm', inputs: ['x', 'W', 'b'], outputs: [softmax ? 'logits' : 'probs'] }]
  if (softmax) nodes.push({ op: 'Softmax', inputs: ['logits'], outputs: ['probs'], attributes: { axis: { i: 1 } } })
  return onnxModel({
    inputs: [{ name: 'x', dtype: 'float32', dims: ['batch', width] }],
    outputs: [{ name: 'probs', dtype: 'float32', dims: ['batch', classes] }],
    nodes,
    initializers: [
      { name: 'W', dims: [width, classes], values: weights },
      { name: 'b', dims: [classes], values: bias },
    ],
  })
}

/**
 * A tabular classifier (`features` [batch, width] → `outputName` [batch, classes], a seeded linear
 * layer) that also does heavy work whose result is multiplied by zero and added to the logits: the
 * same answers' shape, real extra engine time (a "slow candidate"). The work depends on the input (an
 * outer product of a projection of it, squared `layers` times through tanh), so no runtime can fold it
 * away at load; each layer is H³ = 2.1 M multiply-adds, with no large weights to download.
 */
export function slowClassifier(o: {
  width: number
  classes: number
  layers: number
  rand: () => number
  inputName?: string
  outputName?: string
}): Uint8Array {
  const input = o.inputName ?? 'features'
  const output = o.outputName ?? 'probs'
  const H = 128
  const uniform = (n: number, scale: number) => Array.from({ length: n }, () => (o.rand() * 2 - 1) * scale)
  const initializers: Initializer[] = [
    { name: 'W', dims: [o.width, o.classes], values: uniform(o.width * o.classes, 1) },
    { name: 'b', dims: [o.classes], values: uniform(o.classes, 0.5) },
    { name: 'H0', dims: [o.width, H], values: uniform(o.width * H, 0.5) },
    { name: 'scale', dims: [1], values: [1 / H] },
    { name: 'zero', dims: [1], values: [0] },
  ]
  const nodes: NodeSpec[] = [
    { op: 'Gemm', inputs: [input, 'W', 'b'], outputs: ['logits'] },
    { op: 'MatMul', inputs: [input, 'H0'], outputs: ['m0'] },
    { op: 'Tanh', inputs: ['m0'], outputs: ['h0'] },
    { op: 'Transpose', inputs: ['h0'], outputs: ['h0t'], attributes: { perm: { ints: [1, 0] } } },
    { op: 'MatMul', inputs: ['h0t', 'h0'], outputs: ['outer'] },
    { op: 'Tanh', inputs: ['outer'], outputs: ['p0'] },
  ]
  for (let k = 1; k <= o.layers; k++) {
    nodes.push(
      { op: 'MatMul', inputs: [`p${k - 1}`, `p${k - 1}`], outputs: [`q${k}`] },
      { op: 'Mul', inputs: [`q${k}`, 'scale'], outputs: [`s${k}`] },
      { op: 'Tanh', inputs: [`s${k}`], outputs: [`p${k}`] },
    )
  }
  nodes.push(
    {
      op: 'ReduceMean',
      inputs: [`p${o.layers}`],
      outputs: ['r'],
      attributes: { axes: { ints: [0, 1] }, keepdims: { i: 1 } },
    },
    { op: 'Mul', inputs: ['r', 'zero'], outputs: ['z'] },
    { op: 'Add', inputs: ['logits', 'z'], outputs: [output] },
  )
  return onnxModel({
    inputs: [{ name: input, dtype: 'float32', dims: ['batch', o.width] }],
    outputs: [{ name: output, dtype: 'float32', dims: ['batch', o.classes] }],
    nodes,
    initializers,
  })
}
