/**
 * HyperLogLog over 53-bit device keys (see `deviceKey`), as pure functions on a register array
 * (Flajolet, Fusy, Gandouet, Meunier, "HyperLogLog: the analysis of a near-optimal cardinality
 * estimation algorithm", AofA 2007).
 *
 * Precision p = 12: m = 2^12 = 4096 one-byte registers. The top 12 bits of a key pick the register;
 * the remaining q = 41 bits w give the rank ρ(w) = 1 + leading zeros of w as a 41-bit word (q + 1
 * for w = 0). The estimate is Ertl's improved estimator (O. Ertl, "New cardinality estimation
 * algorithms for HyperLogLog sketches", 2017, arXiv:1702.01284, Algorithm 6): with C_k the number of
 * registers equal to k, z = m·τ(1 − C_{q+1}/m), then z ← (z + C_k)/2 for k = q … 1, z += m·σ(C_0/m),
 * E = m² / (2 ln 2 · z). Unlike the original's switch to linear counting at 2.5·m, it has no biased
 * transition range, so the relative standard error is ≈ 1.04/√m ≈ 1.625% from a few devices up.
 *
 * Merging is the register-wise maximum: exact, associative, commutative and idempotent, so any
 * order of adds and merges gives the same registers (and estimate).
 */
/** Precision p: the number of index bits. */
export const HLL_PRECISION = 12
/** m = 2^p registers (one byte each). */
export const HLL_REGISTERS = 1 << HLL_PRECISION
/** Relative standard error of the estimate, 1.04 / √m. */
export const HLL_RELATIVE_ERROR = 1.04 / Math.sqrt(HLL_REGISTERS)

const KEY_BITS = 53
const RANK_BITS = KEY_BITS - HLL_PRECISION // 41
const RANK_SPAN = 2 ** RANK_BITS
const TWO_32 = 2 ** 32

/** Fresh, all-zero registers. */
export function hllRegisters(): Uint8Array {
  return new Uint8Array(HLL_REGISTERS)
}

/** Adds one 53-bit key (a non-negative safe integer) into `registers`. */
export function hllAdd(registers: Uint8Array, key: number): void {
  const index = Math.floor(key / RANK_SPAN)
  const w = key - index * RANK_SPAN
  const rank = RANK_BITS + 1 - bitLength(w)
  if (rank > registers[index]) registers[index] = rank
}

/** Merges `source` into `target` (register-wise maximum). */
export function hllMerge(target: Uint8Array, source: Uint8Array): void {
  for (let i = 0; i < HLL_REGISTERS; i++) if (source[i] > target[i]) target[i] = source[i]
}

/** The cardinality estimate of `registers` (Ertl's improved estimator, above), rounded to an integer. */
export function hllEstimate(registers: Uint8Array): number {
  const m = HLL_REGISTERS
  const q = RANK_BITS
  const c = new Array<number>(q + 2).fill(0)
  for (let i = 0; i < m; i++) c[registers[i]]++
  let z = m * tau(1 - c[q + 1] / m)
  for (let k = q; k >= 1; k--) z = 0.5 * (z + c[k])
  z += m * sigma(c[0] / m)
  return Math.round((m * m) / (2 * Math.LN2 * z))
}

/** σ(x) = x + Σ_{k≥1} x^(2^k)·2^(k−1) (Ertl 2017, eq. 19); ∞ at x = 1 (empty sketch). */
function sigma(x: number): number {
  if (x === 1) return Infinity
  let y = 1
  let z = x
  for (;;) {
    x *= x
    const before = z
    z += x * y
    y += y
    if (z === before) return z
  }
}

/** τ(x) = (1 − x − Σ_{k≥1} (1 − x^(2^−k))²·2^−k) / 3 (Ertl 2017, eq. 21). */
function tau(x: number): number {
  if (x === 0 || x === 1) return 0
  let y = 1
  let z = 1 - x
  for (;;) {
    x = Math.sqrt(x)
    const before = z
    y *= 0.5
    z -= (1 - x) ** 2 * y
    if (z === before) return z / 3
  }
}

/** Number of significant bits of a non-negative integer below 2^41 (0 for 0). */
function bitLength(w: number): number {
  if (w >= TWO_32) return 64 - Math.clz32(Math.floor(w / TWO_32))
  return 32 - Math.clz32(w)
}
