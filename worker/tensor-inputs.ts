import { EdgefleetError } from '../core/errors.ts'
import type { TensorInfo } from './engines/engine.ts'
import type { ModelInput, TensorData } from './protocol.ts'
import { ARRAY_OF, elementCount, isTensorDtype } from './tensor-data.ts'

/**
 * Checks a tensor model's input against what the engine declares, so a wrong name, dtype or shape
 * is a `bad_request` naming the field, not an engine error deep inside a WASM call.
 */
export function checkTensorInputs(
  inputs: readonly TensorInfo[],
  given: ModelInput,
  pointer: string,
): Record<string, TensorData> {
  if (typeof given !== 'object' || given === null || Array.isArray(given))
    throw new EdgefleetError('bad_request', 'a tensor model takes an object of named tensors', { pointer })
  const expected = new Set(inputs.map((i) => i.name))
  for (const name of Object.keys(given)) {
    if (!expected.has(name))
      throw new EdgefleetError(
        'bad_request',
        `unknown input "${name}"; the model takes ${[...expected].map((n) => `"${n}"`).join(', ')}`,
        { pointer: `${pointer}/${name}` },
      )
  }
  const feeds: Record<string, TensorData> = {}
  for (const info of inputs) feeds[info.name] = checkTensor(info, given[info.name], `${pointer}/${info.name}`)
  return feeds
}

function checkTensor(info: TensorInfo, value: unknown, pointer: string): TensorData {
  const bad = (what: string, field = '') =>
    new EdgefleetError('bad_request', `input "${info.name}": ${what}`, { pointer: pointer + field })
  if (value === undefined) throw bad('missing')
  const t = value as Partial<TensorData>
  if (typeof t !== 'object' || t === null || typeof t.dtype !== 'string' || !isTensorDtype(t.dtype))
    throw bad('not a tensor ({dtype, dims, data}) of a known dtype', '/dtype')
  if (!Array.isArray(t.dims) || !t.dims.every((d) => Number.isInteger(d) && d >= 0))
    throw bad('dims must be non-negative integers', '/dims')
  if (!(t.data instanceof ARRAY_OF[t.dtype])) throw bad(`${t.dtype} data must be a ${ARRAY_OF[t.dtype].name}`, '/data')
  if (t.data.length !== elementCount(t.dims))
    throw bad(`dims [${t.dims.join(', ')}] need ${elementCount(t.dims)} values, data has ${t.data.length}`, '/data')
  if (info.dtype !== undefined && t.dtype !== info.dtype)
    throw bad(`dtype ${t.dtype}, the model takes ${info.dtype}`, '/dtype')
  if (info.dims !== undefined) {
    const want = info.dims
    const fits = want.length === t.dims.length && want.every((d, i) => d === null || d === t.dims![i])
    if (!fits)
      throw bad(`dims [${t.dims.join(', ')}] do not fit the model's [${want.map((d) => d ?? '?').join(', ')}]`, '/dims')
  }
  return t as TensorData
}
