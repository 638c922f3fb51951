import { EdgefleetError } from '../core/errors.ts'
import type { TensorData } from './protocol.ts'

/** The typed array each dtype travels in. */
export const ARRAY_OF: Record<TensorData['dtype'], abstract new (...args: never[]) => TensorData['data']> = {
  float32: Float32Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  int8: Int8Array,
  bool: Uint8Array,
  float16: Uint16Array,
}

/** Number of elements of a tensor of `dims` (1 for a scalar). */
export function elementCount(dims: readonly number[]): number {
  let n = 1
  for (const d of dims) n *= d
  return n
}

/** True when `dtype` is one the protocol carries. */
export function isTensorDtype(dtype: string): dtype is TensorData['dtype'] {
  return Object.hasOwn(ARRAY_OF, dtype)
}

/** Element `i` as a JS number (int64 through Number, float16 decoded). */
export function numberAt(t: TensorData, i: number): number {
  const v = t.data[i]
  if (typeof v === 'bigint') return Number(v)
  return t.dtype === 'float16' ? halfToFloat(v) : v
}

/** IEEE 754 binary16 bits to a number. */
export function halfToFloat(bits: number): number {
  const exponent = (bits >> 10) & 0x1f
  const fraction = bits & 0x3ff
  const sign = bits & 0x8000 ? -1 : 1
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024)
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : Number.NaN
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024)
}

/** The buffers of `tensors`, to transfer them instead of copying (each listed once). */
export function buffersOf(tensors: Iterable<TensorData>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>()
  for (const t of tensors) if (t.data.buffer instanceof ArrayBuffer) seen.add(t.data.buffer)
  return [...seen]
}

/** An engine output in a dtype the protocol cannot carry. */
export function unsupportedDtype(name: string, dtype: string): EdgefleetError {
  return new EdgefleetError(
    'validation_failed',
    `output "${name}" has dtype ${dtype}, which the worker protocol does not carry`,
  )
}
