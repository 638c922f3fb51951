import onnxProto from 'onnx-proto'

const { onnx } = onnxProto

/** A float tensor's value info; a string dim is symbolic (e.g. `batch`). */
export function floatTensor(name: string, dims: readonly (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  }
}

/** The bytes of a one-graph model (IR 8, default opset 13) as the trainer's exporters write it. */
export function encodeModel(producer: string, graph: onnxProto.onnx.IGraphProto): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: producer,
    opsetImport: [{ domain: '', version: 13 }],
    graph,
  })
  // A standalone copy: in Node, protobufjs hands out a Buffer that may be a view of a shared pool.
  return Uint8Array.from(onnx.ModelProto.encode(model).finish())
}
