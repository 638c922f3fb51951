/**
 * `bucket/1`: deterministic, sticky, monotone assignment of devices to rollout arms.
 *
 * `bucket = (murmur3_x86_32(utf8(salt + ":" + deviceId), seed 0) >>> 0) % 100000`, a resolution of
 * 0.001%. A device is in the candidate arm when `bucket < Math.round(percent × 1000)`; raising the
 * percent only adds devices, and each rollout's own salt decorrelates rollouts. The product is taken on
 * IEEE doubles exactly as written (2.0075 × 1000 = 2007.4999999999998 rounds to 2007) so every runtime
 * agrees bit for bit.
 */
export const BUCKET_VERSION = 1
export const BUCKETS = 100_000

const encoder = new TextEncoder()

/**
 * MurmurHash3 x86 32-bit over bytes (Appleby, SMHasher `MurmurHash3_x86_32`), unsigned result.
 *
 * @example murmur3x86_32(new TextEncoder().encode('hello')) // 0x248bfa47
 */
export function murmur3x86_32(bytes: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51
  const c2 = 0x1b873593
  const len = bytes.length
  const blocks = len & ~3
  let h = seed >>> 0
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  const tail = len & 3
  if (tail > 0) {
    let k = bytes[blocks]
    if (tail > 1) k |= bytes[blocks + 1] << 8
    if (tail > 2) k |= bytes[blocks + 2] << 16
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
  }
  h ^= len
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The device's bucket in [0, 100000) for a rollout salt (`bucket/1`). */
export function bucketOf(salt: string, deviceId: string): number {
  return murmur3x86_32(encoder.encode(`${salt}:${deviceId}`), 0) % BUCKETS
}

/** The first bucket outside a share of `percent` (0–100, resolution 0.001). */
export function bucketThreshold(percent: number): number {
  if (!(percent >= 0 && percent <= 100)) throw new RangeError(`percent must be within [0, 100], got ${percent}`)
  return Math.round(percent * 1000)
}

/** True when the device falls inside the first `percent` of the salt's buckets. */
export function inPercent(salt: string, deviceId: string, percent: number): boolean {
  return bucketOf(salt, deviceId) < bucketThreshold(percent)
}
