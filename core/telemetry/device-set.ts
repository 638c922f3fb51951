import { murmur3x86_32 } from '../bucket.ts'
import { HLL_REGISTERS, HLL_RELATIVE_ERROR, hllAdd, hllEstimate, hllMerge, hllRegisters } from './hyperloglog.ts'

/**
 * Distinct devices: an exact set of device keys while it holds at most DEVICE_SET_EXACT_LIMIT keys,
 * a HyperLogLog (p = 12, ≈1.6% relative standard error) beyond. Union is associative, commutative and
 * idempotent: the result is exact exactly when every input is exact and the union holds at most the
 * limit, else it is the HyperLogLog of the union of all keys (the same registers whatever the order).
 */
export const DEVICE_SET_EXACT_LIMIT = 1024

/** `devicekey/1`: the derivation of device keys below; stored sets depend on it, so it never changes. */
export const DEVICE_KEY_VERSION = 1
const SEED_HIGH = 0x2f7a3b51
const SEED_LOW = 0x6c8e9cf5
const encoder = new TextEncoder()

/**
 * A device's 53-bit key: murmur3_x86_32 of its UTF-8 id under two fixed seeds, `h1 · 2^21 + (h2 >>> 11)`.
 * The seeds differ from `bucket/1`'s and from shard routing (seed 0), so keys inside one shard or
 * rollout arm still spread over every HyperLogLog register. Two devices collide with probability
 * ≈ n² / 2^54 (about 5·10^-5 for a million devices).
 */
export function deviceKey(deviceId: string): number {
  const bytes = encoder.encode(deviceId)
  return murmur3x86_32(bytes, SEED_HIGH) * 2 ** 21 + (murmur3x86_32(bytes, SEED_LOW) >>> 11)
}

/** A device set as stored and sent between shards and the Worker. */
export type DeviceSetJson = { exact: number[] } | { hll: string }

/** A mergeable set of device keys (see the file comment). */
export class DeviceSet {
  #exact: Set<number> | null = new Set()
  #registers: Uint8Array | null = null

  /** True while the set is exact (not yet a HyperLogLog). */
  get isExact(): boolean {
    return this.#exact !== null
  }

  /** The number of distinct devices: exact, or the HyperLogLog estimate. */
  get size(): number {
    return this.#exact !== null ? this.#exact.size : hllEstimate(this.#registers!)
  }

  /** Relative standard error of `size`: 0 when exact, 1.04/√4096 ≈ 0.016 otherwise. */
  get relativeError(): number {
    return this.#exact !== null ? 0 : HLL_RELATIVE_ERROR
  }

  /** Adds one device key (from `deviceKey`). */
  add(key: number): this {
    if (this.#exact !== null) {
      this.#exact.add(key)
      if (this.#exact.size > DEVICE_SET_EXACT_LIMIT) this.#toHll()
    } else hllAdd(this.#registers!, key)
    return this
  }

  /** Adds every device of `other` into this set. */
  union(other: DeviceSet): this {
    if (other.#exact !== null) {
      for (const key of [...other.#exact]) this.add(key)
      return this
    }
    if (this.#exact !== null) this.#toHll()
    hllMerge(this.#registers!, other.#registers!)
    return this
  }

  /** An independent copy. */
  clone(): DeviceSet {
    return new DeviceSet().union(this)
  }

  /** The stored form: sorted keys, or the registers in base64. */
  toJSON(): DeviceSetJson {
    if (this.#exact !== null) return { exact: [...this.#exact].sort((a, b) => a - b) }
    let binary = ''
    for (const r of this.#registers!) binary += String.fromCharCode(r)
    return { hll: btoa(binary) }
  }

  /** Rebuilds a set from `toJSON()`; throws a TypeError on a malformed value. */
  static fromJSON(json: DeviceSetJson): DeviceSet {
    const set = new DeviceSet()
    if ('exact' in json) {
      for (const key of json.exact) {
        if (!Number.isSafeInteger(key) || key < 0)
          throw new TypeError(`a device key must be a non-negative safe integer, got ${key}`)
        set.add(key)
      }
      return set
    }
    const binary = atob(json.hll)
    if (binary.length !== HLL_REGISTERS)
      throw new TypeError(`a HyperLogLog has ${HLL_REGISTERS} registers, got ${binary.length}`)
    set.#exact = null
    set.#registers = Uint8Array.from(binary, (ch) => ch.charCodeAt(0))
    return set
  }

  #toHll(): void {
    const registers = hllRegisters()
    for (const key of this.#exact!) hllAdd(registers, key)
    this.#exact = null
    this.#registers = registers
  }
}
