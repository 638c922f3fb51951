import type { TensorData } from './protocol.ts'
import { numberAt } from './tensor-data.ts'

/** The per-sample statistics a profile may hold for a tensor, as `<tensor>.<stat>` features. */
export const SUMMARY_STATS = ['mean', 'std', 'min', 'max'] as const

/**
 * How many samples a tensor holds: the size of its first axis for rank ≥ 2 (`[batch, …]`); a scalar
 * or a vector is one sample.
 */
export function sampleCount(t: TensorData): number {
  return t.dims.length >= 2 ? t.dims[0] : 1
}

/**
 * Mean, population std (ddof 0, as profiles use), min and max of sample `s` of `t`, written to
 * `out[0..3]` (NaN for an empty sample). One pass with Welford's update (Welford 1962), which keeps
 * the variance exact enough for large, offset values.
 */
export function summarizeSample(t: TensorData, s: number, out: Float64Array): void {
  const samples = sampleCount(t)
  const size = samples === 0 ? 0 : t.data.length / samples
  let mean = 0
  let m2 = 0
  let min = Infinity
  let max = -Infinity
  const start = s * size
  // The common case reads the Float32Array directly; other dtypes convert per element.
  const floats = t.data instanceof Float32Array ? t.data : undefined
  for (let i = 0; i < size; i++) {
    const x = floats !== undefined ? floats[start + i] : numberAt(t, start + i)
    const delta = x - mean
    mean += delta / (i + 1)
    m2 += delta * (x - mean)
    if (x < min) min = x
    if (x > max) max = x
  }
  out[0] = size === 0 ? Number.NaN : mean
  out[1] = size === 0 ? Number.NaN : Math.sqrt(m2 / size)
  out[2] = size === 0 ? Number.NaN : min
  out[3] = size === 0 ? Number.NaN : max
}
