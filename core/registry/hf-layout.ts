/**
 * @module
 * The Hugging Face model folder layout (format `hf-onnx`), as transformers.js reads it from the hub:
 * `config.json` (with its `transformers.js_config`), the tokenizer and processor JSON files at the
 * root, and the ONNX graphs under `onnx/`, one per component (`model`, or `encoder_model` and
 * `decoder_model_merged` for a split model) and weight type (`<component><suffix>.onnx`), each
 * with optional external-data files (`<file>.onnx_data`, `<file>.onnx_data_1`, …).
 */
import type { HfDtype, HfFileRole } from '../formats/hf.ts'
import type { Problem } from './checks.ts'

/** The file-name suffix transformers.js appends for each weight type (`DEFAULT_DTYPE_SUFFIX_MAPPING`). */
export const HF_DTYPE_SUFFIX: Readonly<Record<HfDtype, string>> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
}

const ROOT_FILES: Readonly<Record<string, HfFileRole>> = {
  'config.json': 'config',
  'tokenizer.json': 'tokenizer',
  'tokenizer_config.json': 'tokenizer-config',
  'generation_config.json': 'generation-config',
  'preprocessor_config.json': 'preprocessor-config',
}

// Longest suffix first, so `_q4f16` is not read as `_q4` with a component ending in `f16`.
const SUFFIXES = (Object.entries(HF_DTYPE_SUFFIX) as [HfDtype, string][])
  .filter(([, s]) => s !== '')
  .sort((a, b) => b[1].length - a[1].length)

/** What a file of the folder is: its role, and for ONNX graphs and their data the component and weight type. */
export interface HfFile {
  role: HfFileRole
  /** The model component (`model`, `encoder_model`, `decoder_model_merged`…), for ONNX files. */
  component?: string
  dtype?: HfDtype
}

const ONNX = /^onnx\/([A-Za-z0-9_.-]+?)\.onnx(_data(?:_[0-9]+)?)?$/

/** The role of a file at `path` in a Hugging Face model folder, or null when transformers.js never reads it. */
export function hfFileOf(path: string): HfFile | null {
  const root = ROOT_FILES[path]
  if (root !== undefined) return { role: root }
  const m = ONNX.exec(path)
  if (!m) return null
  const stem = m[1]
  const [dtype, suffix] = SUFFIXES.find(([, s]) => stem.endsWith(s) && stem.length > s.length) ?? ['fp32', '']
  return { role: m[2] ? 'onnx-data' : 'onnx', component: stem.slice(0, stem.length - suffix.length), dtype }
}

/**
 * Why `files` do not make a Hugging Face model folder, or null when they do: every file is one
 * transformers.js reads, `config.json` is there, at least one `onnx/*.onnx` graph, and every
 * external-data file belongs to a graph of the version.
 */
export function hfLayoutProblem(files: readonly { path: string }[]): Problem | null {
  const problem = firstProblem(files)
  return problem === null ? null : { ...problem, code: 'not_hf_layout' }
}

function firstProblem(files: readonly { path: string }[]): Problem | null {
  const graphs = new Set(files.filter((f) => hfFileOf(f.path)?.role === 'onnx').map((f) => f.path))
  for (const [i, f] of files.entries()) {
    const file = hfFileOf(f.path)
    if (file === null)
      return {
        pointer: `/files/${i}/path`,
        message: `${f.path} is not a file of a Hugging Face model folder (config.json, tokenizer.json, tokenizer_config.json, generation_config.json, preprocessor_config.json, onnx/<name>.onnx and its .onnx_data)`,
      }
    if (file.role === 'onnx-data' && !graphs.has(f.path.replace(/_data(_[0-9]+)?$/, '')))
      return {
        pointer: `/files/${i}/path`,
        message: `${f.path} is external data of ${f.path.replace(/_data(_[0-9]+)?$/, '')}, which the version does not hold`,
      }
  }
  if (!files.some((f) => f.path === 'config.json'))
    return { pointer: '/files', message: 'a Hugging Face model folder has a config.json at its root' }
  if (graphs.size === 0)
    return { pointer: '/files', message: 'a Hugging Face model folder has at least one onnx/<name>.onnx graph' }
  return null
}

/** The files with their role and weight type, as manifests list them. */
export function withHfRoles<F extends { path: string }>(
  files: readonly F[],
): (F & { role?: HfFileRole; dtype?: HfDtype })[] {
  return files.map((f) => {
    const file = hfFileOf(f.path)
    if (file === null) return f
    return { ...f, role: file.role, ...(file.dtype ? { dtype: file.dtype } : {}) }
  })
}
