import { EdgefleetError } from '../errors.ts'
import type { SketchJson } from '../formats/sketch.ts'
import { SKETCH_DEFAULT_ALPHA, SKETCH_MAX_BINS, SKETCH_MIN_INDEXABLE } from '../formats/sketch-params.ts'

const INITIAL_CAPACITY = 32
/** Most values a sketch counts before merges downscale it: 2^53 − 1 minus room for rounding up every bin. */
const SAFE_COUNT = Number.MAX_SAFE_INTEGER - 2 * SKETCH_MAX_BINS
const NO_BINS = new Float64Array(0)

/** Options of a new DDSketch. */
export interface DDSketchOptions {
  /** Relative accuracy α in (0, 1); default 0.01. Sketches merge only with the same α. */
  alpha?: number
}

/**
 * A quantile sketch for non-negative values (latency, load time) with a relative-error guarantee,
 * format `sketch/1`. After Masson, Rim, Lee, "DDSketch: A Fast and Fully-Mergeable Quantile Sketch
 * with Relative-Error Guarantees", VLDB 2019.
 *
 * Mapping: γ = (1 + α) / (1 − α); a value x ≥ 1e-9 goes to bin i = ⌈ln(x) · (1 / ln γ)⌉ (float64),
 * i.e. x ∈ (γ^(i−1), γ^i]; values in [0, 1e-9) go to a zero bucket. Bin i is represented by
 * 2·γ^i / (γ + 1) = (1 − α)·γ^i, which is within α of every value of the bin (as in the paper).
 *
 * Guarantee of `quantile(q)`: let r = ⌊q·(n − 1)⌋ and x_r the value of rank r (0-based) among the
 * values added. Then
 * - r = 0 or r = n − 1: the exact `min` / `max`;
 * - x_r < 1e-9 (zero bucket): `min`, so the absolute error is below 1e-9 (exactly 0 for zeros);
 * - otherwise |quantile(q) − x_r| ≤ α·x_r, unless x_r was collapsed (below).
 * The estimate is always clamped into [min, max], which can only bring it closer to x_r.
 *
 * Collapse: at most 2048 bins are kept, the highest ones. With H the highest bin, every bin below
 * L = H − 2047 is folded into bin L (the JSON `offset`). For a collapsed rank (1e-9 ≤ x_r ≤ γ^(L−1),
 * see `collapsedUpTo`) the α bound is lost and only x_r ≤ quantile(q) = (1 − α)·γ^L < γ^L holds: never
 * an underestimate, never above the upper edge γ^L of the collapsed bin. 2048 bins at α = 1% span a
 * ratio of 6·10^17, so this needs, e.g., 1e-6 and 1e12 in one sketch (in ms: 1 ns and 30 years).
 *
 * Merging is exact on counts: a value's final bin is max(i, H − 2047) whatever the order of adds,
 * merges and collapses, so bin counts are associative and commutative; `sum` only up to rounding.
 * Float rounding in ln/pow can move the bounds above by ~1e-13 relative. Engines may differ in the
 * last bit of Math.log/Math.pow, so a value within an ulp of a bin edge may land in either neighbour
 * and an estimate may differ in its last bit; encoded counts, once made, merge exactly everywhere.
 *
 * @example const s = new DDSketch(); s.add(12.5); s.add(80); s.quantile(0.95)
 */
export class DDSketch {
  /** Relative accuracy α. */
  readonly alpha: number
  private readonly gamma: number
  private readonly invLogGamma: number
  /** bins[k] counts bin `base + k`; only [lo, hi] is non-zero, and bins lo and hi are. */
  private bins: Float64Array = NO_BINS
  private base = 0
  private lo = 0
  private hi = -1
  private zero = 0
  private n = 0
  private total = 0
  private minValue = Infinity
  private maxValue = -Infinity

  /** An empty sketch; throws `validation_failed` unless 0 < alpha < 1. */
  constructor(options: DDSketchOptions = {}) {
    const alpha = options.alpha ?? SKETCH_DEFAULT_ALPHA
    if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 1)) {
      throw new EdgefleetError('validation_failed', `sketch alpha must be in (0, 1), got ${alpha}`)
    }
    this.alpha = alpha
    this.gamma = (1 + alpha) / (1 - alpha)
    this.invLogGamma = 1 / Math.log(this.gamma)
  }

  /** Number of values added. */
  get count(): number {
    return this.n
  }

  /** Sum of the values added (float; merges may differ from a single pass by rounding). */
  get sum(): number {
    return this.total
  }

  /** Exact smallest value added; undefined when empty. */
  get min(): number | undefined {
    return this.n === 0 ? undefined : this.minValue
  }

  /** Exact largest value added; undefined when empty. */
  get max(): number | undefined {
    return this.n === 0 ? undefined : this.maxValue
  }

  /** True when no value was added. */
  get isEmpty(): boolean {
    return this.n === 0
  }

  /** γ^(L−1) when lower bins were (or may have been) collapsed into the lowest kept bin L, else 0. */
  get collapsedUpTo(): number {
    return this.hi - this.lo + 1 === SKETCH_MAX_BINS ? Math.pow(this.gamma, this.lo - 1) : 0
  }

  /** Adds `value` (finite, ≥ 0) `count` times (a positive integer); throws `validation_failed` otherwise or if `sum` would overflow. */
  add(value: number, count = 1): this {
    if (typeof value !== 'number' || !(value >= 0 && value < Infinity)) {
      throw new EdgefleetError('validation_failed', `sketch values must be finite and non-negative, got ${value}`)
    }
    if (count !== 1 && !(Number.isSafeInteger(count) && count > 1)) {
      throw new EdgefleetError('validation_failed', `sketch counts must be positive integers, got ${count}`)
    }
    if (this.n + count > Number.MAX_SAFE_INTEGER) {
      throw new EdgefleetError('validation_failed', 'sketch count would exceed Number.MAX_SAFE_INTEGER')
    }
    const v = value + 0 // −0 becomes +0, so min and the JSON agree
    const total = this.total + v * count
    if (total === Infinity) throw new EdgefleetError('validation_failed', 'sketch sum would overflow float64')
    this.n += count
    this.total = total
    if (v < this.minValue) this.minValue = v
    if (v > this.maxValue) this.maxValue = v
    if (v < SKETCH_MIN_INDEXABLE) {
      this.zero += count
      return this
    }
    const i = Math.ceil(Math.log(v) * this.invLogGamma)
    // Most adds land inside the bins in use: count there without the range bookkeeping.
    if (i >= this.lo && i <= this.hi) this.bins[i - this.base] += count
    else this.addToBin(i, count)
    return this
  }

  /** True when `other` can merge into this sketch: the same alpha and a finite sum together. */
  canMerge(other: DDSketch): boolean {
    return other.alpha === this.alpha && this.total + other.total < Infinity
  }

  /**
   * Adds all of `other` into this sketch; throws `validation_failed`, changing nothing, when the
   * alphas differ or the sum would overflow float64 (see `canMerge`). Counts never overflow: when
   * the merged count would pass 2^53 − 1, every count (and the sum) is divided by the same power of
   * two (`downscale`), which keeps the distribution and so the quantiles up to that rounding.
   */
  merge(other: DDSketch): this {
    if (other.alpha !== this.alpha) {
      throw new EdgefleetError('validation_failed', `cannot merge sketches with alpha ${other.alpha} and ${this.alpha}`)
    }
    if (other.n === 0) return this
    if (this.total + other.total === Infinity)
      throw new EdgefleetError('validation_failed', 'sketch sum would overflow float64')
    if (this.n + other.n > SAFE_COUNT) {
      // Scale copies, not `other`: the caller keeps it unchanged.
      const incoming = DDSketch.fromValid(other.toJSON())
      let factor = 1
      while ((this.n + incoming.n) / factor > SAFE_COUNT) factor *= 2
      this.downscale(factor)
      incoming.downscale(factor)
      return this.merge(incoming)
    }
    // Read `other` before writing: it may be this sketch.
    const { lo, hi, base, zero, n, total, minValue, maxValue } = other
    const bins = other === this ? other.bins.slice() : other.bins
    // The highest bin first, then the lowest (both are non-zero): the kept range, and any collapse, is
    // settled before the bins between are added. Without a collapse they all fall inside it and add
    // as a plain loop over both arrays.
    if (hi >= lo) {
      this.addToBin(hi, bins[hi - base])
      if (lo < hi) {
        this.addToBin(lo, bins[lo - base])
        if (this.lo <= lo) {
          const into = this.bins
          const shift = base - this.base
          for (let j = lo + 1 - base; j < hi - base; j++) into[j + shift] += bins[j]
        } else {
          for (let k = hi - 1; k > lo; k--) {
            const c = bins[k - base]
            if (c > 0) this.addToBin(k, c)
          }
        }
      }
    }
    this.zero += zero
    this.n += n
    this.total += total
    if (minValue < this.minValue) this.minValue = minValue
    if (maxValue > this.maxValue) this.maxValue = maxValue
    return this
  }

  /**
   * Estimate of the value of rank ⌊q·(n − 1)⌋, within the guarantee stated on the class. Throws
   * `validation_failed` unless 0 ≤ q ≤ 1, `empty_data` when the sketch is empty.
   */
  quantile(q: number): number {
    if (typeof q !== 'number' || !(q >= 0 && q <= 1)) {
      throw new EdgefleetError('validation_failed', `quantile must be in [0, 1], got ${q}`)
    }
    if (this.n === 0) throw new EdgefleetError('empty_data', 'quantile of an empty sketch')
    const rank = Math.floor(q * (this.n - 1))
    if (rank === 0) return this.minValue
    if (rank === this.n - 1) return this.maxValue
    if (rank < this.zero) return this.clamp(0)
    let seen = this.zero
    for (let k = this.lo; k <= this.hi; k++) {
      seen += this.bins[k - this.base]
      if (seen > rank) return this.clamp((2 * Math.pow(this.gamma, k)) / (this.gamma + 1))
    }
    return this.maxValue // unreachable: the counts add up to n
  }

  /**
   * How many values are at most `x`, within the sketch's accuracy: the values of every bin up to and
   * including the bin of `x`, so every value ≤ x counts, and so may values of x's own bin above it
   * (at most (γ − 1)·x ≈ 2α·x above x). Exact when x ≥ `max` (all) or x < `min` (none). The rank
   * behind latency objectives (core/slo/indicator.ts).
   */
  countAtMost(x: number): number {
    if (this.n === 0 || !(x >= this.minValue)) return 0
    if (x >= this.maxValue) return this.n
    let count = this.zero
    if (x < SKETCH_MIN_INDEXABLE) return count
    const top = Math.min(this.hi, Math.ceil(Math.log(x) * this.invLogGamma))
    for (let k = this.lo; k <= top; k++) count += this.bins[k - this.base]
    return count
  }

  /**
   * The part of this sketch to take away to keep only `keep` ∈ [0, 1] of it: round(n·keep) values are
   * kept, each bin (and the zero bucket) keeping its share c·keep rounded by largest remainder, and
   * (1 − keep) of the sum; returned as a new sketch whose
   * min and max are this sketch's where their bins contribute, else the representatives of its
   * extreme bins. With `subtract`, it weighs a device's values down to a cap (core/telemetry/device-caps.ts).
   */
  excess(keep: number): DDSketch {
    const k = Math.min(1, Math.max(0, keep))
    // Largest remainder: exactly round(n·keep) values are kept, each bin keeping ⌊c·keep⌋ or one more.
    const kept = new Map<number, number>() // bin index (−Infinity: the zero bucket) → values kept
    const fractions: { index: number; fraction: number }[] = []
    let left = Math.round(this.n * k)
    const share = (index: number, c: number) => {
      const exact = c * k
      const whole = Math.floor(exact)
      kept.set(index, whole)
      left -= whole
      if (exact > whole) fractions.push({ index, fraction: exact - whole })
    }
    if (this.zero > 0) share(-Infinity, this.zero)
    for (let i = this.lo; i <= this.hi; i++) if (this.bins[i - this.base] > 0) share(i, this.bins[i - this.base])
    fractions.sort((a, b) => b.fraction - a.fraction || a.index - b.index)
    for (let j = 0; j < left && j < fractions.length; j++)
      kept.set(fractions[j].index, kept.get(fractions[j].index)! + 1)
    const out = new DDSketch({ alpha: this.alpha })
    for (let i = this.lo; i <= this.hi; i++) {
      const c = this.bins[i - this.base]
      const e = c - (kept.get(i) ?? c)
      if (e > 0) out.addToBin(i, e)
    }
    out.zero = this.zero - (kept.get(-Infinity) ?? this.zero)
    out.n = out.zero
    for (let i = out.lo; i <= out.hi; i++) out.n += out.bins[i - out.base]
    if (out.n === 0) return new DDSketch({ alpha: this.alpha })
    out.minValue = out.zero > 0 ? this.minValue : this.lowestOf(out, this.minValue)
    out.maxValue = out.hi >= out.lo ? this.highestOf(out, this.maxValue) : this.minValue
    out.total = out.fitSum(this.total * (1 - k))
    return out
  }

  /**
   * Takes `other` (the values of some of this sketch's inputs, e.g. an `excess`) out of this sketch:
   * counts bin by bin, never below 0, with bins collapsed here taking their share; the sum alike.
   * min and max stay exact while their bins keep values, else become the representatives of the
   * extreme bins left (within α of every value there); the sum is kept inside [n·min, n·max].
   */
  subtract(other: DDSketch): this {
    if (other.alpha !== this.alpha)
      throw new EdgefleetError(
        'validation_failed',
        `cannot subtract sketches with alpha ${other.alpha} and ${this.alpha}`,
      )
    if (other.n === 0 || this.n === 0) return this
    for (let i = other.lo; i <= other.hi; i++) {
      const c = other.bins[i - other.base]
      if (c === 0) continue
      const at = Math.min(Math.max(i, this.lo), this.hi)
      if (this.hi < this.lo) break
      this.bins[at - this.base] = Math.max(0, this.bins[at - this.base] - c)
    }
    this.zero = Math.max(0, this.zero - other.zero)
    while (this.lo <= this.hi && this.bins[this.lo - this.base] === 0) this.lo++
    while (this.hi >= this.lo && this.bins[this.hi - this.base] === 0) this.hi--
    if (this.hi < this.lo) {
      this.lo = 0
      this.hi = -1
    }
    let n = this.zero
    for (let i = this.lo; i <= this.hi; i++) n += this.bins[i - this.base]
    this.n = n
    if (n === 0) {
      this.total = 0
      this.minValue = Infinity
      this.maxValue = -Infinity
      return this
    }
    const min = this.zero > 0 ? this.minValue : this.lowestOf(this, this.minValue)
    const max = this.hi >= this.lo ? this.highestOf(this, this.maxValue) : min
    this.minValue = min
    this.maxValue = max
    this.total = this.fitSum(this.total - other.total)
    return this
  }

  /** `value` when it lies in the lowest used bin of `s` (±1, as the format allows), else that bin's representative. */
  private lowestOf(s: DDSketch, value: number): number {
    if (s.hi < s.lo) return value
    const i = value >= SKETCH_MIN_INDEXABLE ? Math.ceil(Math.log(value) * this.invLogGamma) : -Infinity
    return Math.abs(i - s.lo) <= 1 ? value : this.representative(s.lo)
  }

  /** `value` when it lies in the highest used bin of `s` (±1), else that bin's representative. */
  private highestOf(s: DDSketch, value: number): number {
    const i = value >= SKETCH_MIN_INDEXABLE ? Math.ceil(Math.log(value) * this.invLogGamma) : -Infinity
    return Math.abs(i - s.hi) <= 1 ? value : this.representative(s.hi)
  }

  /** The value standing for bin i: 2·γ^i / (γ + 1), within α of every value of the bin. */
  private representative(i: number): number {
    return (2 * Math.pow(this.gamma, i)) / (this.gamma + 1)
  }

  /** `sum` moved into [n·min, n·max], where a sum made of scaled or subtracted parts belongs. */
  private fitSum(sum: number): number {
    const low = this.n * this.minValue
    const high = this.n * this.maxValue
    return sum < low ? low : sum > high ? high : sum
  }

  /** The `sketch/1` encoding (see `core/formats/sketch.ts`); `JSON.stringify` uses it. */
  toJSON(): SketchJson {
    const counts: number[] = []
    for (let k = this.lo; k <= this.hi; k++) counts.push(this.bins[k - this.base])
    const json: SketchJson = {
      v: 1,
      alpha: this.alpha,
      zero: this.zero,
      offset: counts.length > 0 ? this.lo : 0,
      counts,
      n: this.n,
      sum: this.total,
    }
    if (this.n > 0) {
      json.min = this.minValue
      json.max = this.maxValue
    }
    return json
  }

  /**
   * Divides every count by `factor` (a power of two), rounding up so no used bin (nor a non-empty zero
   * bucket) empties: min, max and the bins between stay as they were; `sum` is divided alike.
   */
  private downscale(factor: number): void {
    if (factor === 1) return
    let n = 0
    for (let k = this.lo; k <= this.hi; k++) {
      const c = this.bins[k - this.base]
      if (c > 0) n += this.bins[k - this.base] = Math.ceil(c / factor)
    }
    this.zero = Math.ceil(this.zero / factor)
    this.n = n + this.zero
    this.total /= factor
  }

  /**
   * A sketch from a `sketch/1` object known to be valid (made by this code, or checked with
   * `parseSketch` in core/sketch/parse.ts, which is what untrusted input goes through).
   */
  static fromValid(s: SketchJson): DDSketch {
    const sketch = new DDSketch({ alpha: s.alpha })
    if (s.counts.length > 0) {
      sketch.lo = s.offset
      sketch.hi = s.offset + s.counts.length - 1
      sketch.reserve(sketch.lo, sketch.hi)
      sketch.bins.set(s.counts, sketch.lo - sketch.base)
    }
    sketch.zero = s.zero
    sketch.n = s.n
    sketch.total = s.sum + 0 // −0 becomes +0, as in `add`
    if (s.min !== undefined && s.max !== undefined) {
      sketch.minValue = s.min + 0
      sketch.maxValue = s.max + 0
    }
    return sketch
  }

  private clamp(estimate: number): number {
    return estimate < this.minValue ? this.minValue : estimate > this.maxValue ? this.maxValue : estimate
  }

  /** Counts `count` in bin `index`, collapsing the lowest bins so at most SKETCH_MAX_BINS stay in use. */
  private addToBin(index: number, count: number): void {
    let i = index
    if (this.hi < this.lo) {
      this.lo = this.hi = i
      this.reserve(i, i)
    } else if (i > this.hi) {
      const floor = i - SKETCH_MAX_BINS + 1
      let folded = 0
      if (floor > this.lo) {
        const end = Math.min(this.hi, floor - 1)
        for (let k = this.lo; k <= end; k++) {
          folded += this.bins[k - this.base]
          this.bins[k - this.base] = 0
        }
        this.lo = floor
      }
      this.hi = i
      this.reserve(this.lo, i)
      if (folded > 0) this.bins[this.lo - this.base] += folded
    } else if (i < this.lo) {
      const floor = this.hi - SKETCH_MAX_BINS + 1
      if (i < floor) i = floor
      this.lo = i
      this.reserve(i, this.hi)
    }
    this.bins[i - this.base] += count
  }

  /**
   * Makes bins lo…hi addressable. Every non-zero bin already lies in lo…hi. Capacity doubles up to
   * SKETCH_MAX_BINS; at full capacity the window shifts in place, so steady-state adds never allocate.
   */
  private reserve(lo: number, hi: number): void {
    const old = this.bins
    const oldBase = this.base
    if (lo >= oldBase && hi < oldBase + old.length) return
    const span = hi - lo + 1
    let capacity = Math.max(old.length, INITIAL_CAPACITY)
    while (capacity < span) capacity *= 2
    capacity = Math.min(capacity, SKETCH_MAX_BINS)
    const base = lo - Math.floor((capacity - span) / 2)
    // The live bins are those of lo…hi that were addressable before.
    const from = Math.max(lo, oldBase)
    const to = Math.min(hi, oldBase + old.length - 1)
    if (capacity === old.length) {
      if (from <= to) {
        old.copyWithin(from - base, from - oldBase, to - oldBase + 1)
        old.fill(0, 0, from - base)
        old.fill(0, to - base + 1)
      } else {
        old.fill(0)
      }
    } else {
      const bins = new Float64Array(capacity)
      if (from <= to) bins.set(old.subarray(from - oldBase, to - oldBase + 1), from - base)
      this.bins = bins
    }
    this.base = base
  }
}
