import type { ModelFormat } from '../formats/common.ts'
import type { Profile } from '../formats/profile.ts'
import type { Signature } from '../formats/signature.ts'
import { jsonPointer } from '../json-pointer.ts'
import { hfLayoutProblem } from './hf-layout.ts'

/** A problem found in a publish request, with the JSON pointer of the field at fault. */
export interface Problem {
  pointer: string
  message: string
  /** The error code to report it under, when not `validation_failed`. */
  code?: 'not_hf_layout'
}

/**
 * Checks that a profile describes the inputs the signature declares: every tabular feature has a
 * profile entry of the same type (categorical profiles may hold fewer categories: top-K). Profile
 * entries the signature does not name (tensor summaries such as `audio.mean`) are allowed.
 */
export function profileMatchesSignature(profile: Profile, signature: Signature | null): Problem | null {
  if (!signature || signature.kind !== 'tabular') return null
  for (const feature of signature.features) {
    const p = profile.features[feature.name]
    const pointer = jsonPointer(['profile', 'features', feature.name])
    if (!p) return { pointer, message: `the signature's feature "${feature.name}" has no profile` }
    if (p.type !== feature.type)
      return {
        pointer: `${pointer}/type`,
        message: `"${feature.name}" is ${feature.type} in the signature but ${p.type} in the profile`,
      }
  }
  const output = signature.output
  if (output.kind === 'classes') {
    for (const [name, o] of Object.entries(profile.outputs)) {
      if (o.type !== 'categorical') continue
      const unknown = o.categories.find((c) => !output.labels.includes(c))
      if (unknown !== undefined)
        return {
          pointer: jsonPointer(['profile', 'outputs', name, 'categories']),
          message: `output class "${unknown}" is not one of the signature's labels`,
        }
    }
  }
  return null
}

/**
 * Checks that the files make a model of the format: one `.onnx` file, a tfjs `model.json`, or a
 * Hugging Face model folder (core/registry/hf-layout.ts).
 */
export function filesFitFormat(format: ModelFormat, files: readonly { path: string }[]): Problem | null {
  if (format === 'hf-onnx') return hfLayoutProblem(files)
  if (format === 'onnx') {
    const n = files.filter((f) => f.path.toLowerCase().endsWith('.onnx')).length
    return n === 1 ? null : { pointer: '/files', message: `an onnx version has exactly one .onnx file (found ${n})` }
  }
  return files.some((f) => f.path === 'model.json')
    ? null
    : { pointer: '/files', message: `a ${format} version has a model.json at its root` }
}

/** The entry file the engine opens first: the `.onnx` file or `model.json`. */
export function entryFile<F extends { path: string }>(format: ModelFormat, files: F[]): F {
  const entry =
    format === 'onnx'
      ? files.find((f) => f.path.toLowerCase().endsWith('.onnx'))
      : files.find((f) => f.path === 'model.json')
  if (!entry) throw new Error(`no entry file for ${format}`)
  return entry
}
