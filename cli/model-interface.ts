/**
 * @module
 * A model file's declared interface, read before anything is published: the ONNX graph's inputs
 * (initializers excluded) and outputs from the ModelProto (onnx-proto), or a tfjs model.json's signature
 * (graph models) or input and output layers (layers models). A file that does not parse is refused here,
 * so it never reaches a device.
 */
import { readFile } from 'node:fs/promises'
import onnxProto from 'onnx-proto'
import { EdgefleetError } from '../core/errors.ts'
import type { InterfaceTensor, ModelInterface } from '../core/formats/interface.ts'

const { onnx } = onnxProto

/** ONNX TensorProto.DataType codes (onnx.proto) by the names the SDK's tensors use. */
const ONNX_DTYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
}

type OnnxValueInfo = onnxProto.onnx.IValueInfoProto

function onnxTensor(v: OnnxValueInfo): InterfaceTensor {
  const t = v.type?.tensorType
  const dims = t?.shape?.dim
  return {
    name: v.name ?? '',
    dtype: t?.elemType ? (ONNX_DTYPES[t.elemType] ?? `onnx_${t.elemType}`) : null,
    shape:
      dims == null
        ? null
        : dims.map((d) => (d.dimValue != null ? Number(d.dimValue) : d.dimParam ? String(d.dimParam) : null)),
  }
}

/** The interface of an ONNX file; `parse_error` when the bytes are not an ONNX model. */
export async function onnxInterface(file: string): Promise<ModelInterface> {
  const bytes = await readFile(file)
  let model: InstanceType<typeof onnx.ModelProto>
  try {
    model = onnx.ModelProto.decode(bytes)
  } catch (e) {
    throw new EdgefleetError('parse_error', `${file}: not an ONNX model (${(e as Error).message})`, { cause: e })
  }
  const graph = model.graph
  if (!graph || !model.irVersion || (graph.input ?? []).length === 0 || (graph.output ?? []).length === 0)
    throw new EdgefleetError('parse_error', `${file}: not an ONNX model (no graph with inputs and outputs)`)
  const initializers = new Set((graph.initializer ?? []).map((i) => i.name))
  return {
    inputs: (graph.input ?? []).filter((i) => !initializers.has(i.name)).map(onnxTensor),
    outputs: (graph.output ?? []).map(onnxTensor),
  }
}

/** tfjs dtypes (`DT_FLOAT`, `float32`) as the SDK names them. */
function tfjsDtype(d: unknown): string | null {
  if (typeof d !== 'string') return null
  const name = d.replace(/^DT_/, '').toLowerCase()
  return name === 'float' ? 'float32' : name === 'double' ? 'float64' : name
}

interface TfjsSignatureTensor {
  name?: string
  dtype?: string
  tensorShape?: { dim?: { size?: string | number }[]; unknownRank?: boolean }
}

interface TfjsJson {
  signature?: { inputs?: Record<string, TfjsSignatureTensor>; outputs?: Record<string, TfjsSignatureTensor> }
  modelTopology?: {
    model_config?: { config?: { input_layers?: unknown[][]; output_layers?: unknown[][]; layers?: TfjsLayer[] } }
    config?: { input_layers?: unknown[][]; output_layers?: unknown[][]; layers?: TfjsLayer[] }
  }
}

interface TfjsLayer {
  name?: string
  class_name?: string
  config?: { name?: string; batch_input_shape?: (number | null)[]; dtype?: string }
}

function signatureTensors(entries: Record<string, TfjsSignatureTensor> | undefined): InterfaceTensor[] {
  return Object.entries(entries ?? {}).map(([key, t]) => ({
    name: key,
    dtype: tfjsDtype(t.dtype),
    shape: t.tensorShape?.unknownRank
      ? null
      : (t.tensorShape?.dim ?? []).map((d) => (Number(d.size) >= 0 ? Number(d.size) : null)),
  }))
}

/**
 * The interface a tfjs model.json declares: a graph model's `signature`, or a layers model's input and
 * output layers (shapes known for inputs only); null when it declares neither.
 */
export function tfjsInterface(json: unknown): ModelInterface | null {
  const m = json as TfjsJson
  if (m.signature?.inputs || m.signature?.outputs)
    return { inputs: signatureTensors(m.signature.inputs), outputs: signatureTensors(m.signature.outputs) }
  const config = m.modelTopology?.model_config?.config ?? m.modelTopology?.config
  if (!config?.input_layers || !config.output_layers) return null
  const layers = new Map((config.layers ?? []).map((l) => [l.name ?? l.config?.name, l]))
  return {
    inputs: config.input_layers.map(([name]) => {
      const layer = layers.get(String(name))
      return {
        name: String(name),
        dtype: layer?.config?.dtype ?? 'float32',
        shape: layer?.config?.batch_input_shape ?? null,
      }
    }),
    outputs: config.output_layers.map(([name]) => ({ name: String(name), dtype: null, shape: null })),
  }
}
