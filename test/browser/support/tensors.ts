import { seededNormal, seededRandom } from '../../../scripts/lib/random.ts'
import type { TensorData } from '../../../worker/protocol.ts'

/** Seeded test inputs and tensor comparisons. */

/** Silero VAD v5 input for one 512-sample chunk at 16 kHz: seeded speech-like noise, the carried state, and `sr`. */
export function sileroFeeds(
  seed: number,
  state: Float32Array = new Float32Array(256),
  gain = 0.1,
): Record<string, TensorData> {
  const normal = seededNormal(seededRandom(seed))
  const audio = Float32Array.from(
    { length: 512 },
    (_, i) => gain * (Math.sin((2 * Math.PI * 220 * i) / 16000) + 0.5 * normal()),
  )
  return {
    input: { dtype: 'float32', dims: [1, 512], data: audio },
    state: { dtype: 'float32', dims: [2, 1, 128], data: state },
    sr: { dtype: 'int64', dims: [], data: BigInt64Array.of(16000n) },
  }
}

/** A seeded image tensor in [0, 1) of the given NCHW dims. */
export function seededImage(seed: number, dims: number[]): TensorData {
  const rand = seededRandom(seed)
  const n = dims.reduce((a, b) => a * b, 1)
  return { dtype: 'float32', dims, data: Float32Array.from({ length: n }, rand) }
}

/** Largest |a − b| over two tensors of equal dtype and dims (throws when they differ in shape). */
export function maxAbsDiff(a: TensorData, b: TensorData): number {
  if (a.dtype !== b.dtype || a.dims.join() !== b.dims.join())
    throw new Error(`tensors differ: ${a.dtype}[${a.dims}] vs ${b.dtype}[${b.dims}]`)
  let max = 0
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(Number(a.data[i]) - Number(b.data[i])))
  return max
}
