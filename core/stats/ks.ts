import { kolmogorovSf } from './kolmogorov.ts'
import { sortedSample } from './sample.ts'

/**
 * The two-sample Kolmogorov–Smirnov test, two-sided, as scipy 1.10's
 * `ks_2samp(x, y, alternative='two-sided', method='auto')`.
 *
 * - Statistic: D = max over the pooled values t of |F_x(t) − F_y(t)|, with right-continuous ECDFs, so
 *   tied values (within or across samples) are stepped over together.
 * - p-value, exact when max(n₁, n₂) ≤ 10000: P(D ≥ d) under H₀ by counting lattice paths from (0, 0)
 *   to (n₁, n₂) that leave the band |i/n₁ − j/n₂| < d (Hodges 1958; computed as the exit probability
 *   directly, after Viehmann 2021, arXiv:2102.08037, so tiny p-values keep their digits). Equal sizes
 *   use the reflection formula 2·Σ(−1)^(k+1)·C(2n, n − kh)/C(2n, n). d is first snapped to the lattice,
 *   h = round(d·lcm(n₁, n₂)), and that snapped d is what is reported, as scipy does.
 * - Otherwise, or when the exact value falls outside [0, 1] by rounding (scipy then falls back too):
 *   kstwo.sf(d, round(n₁n₂/(n₁ + n₂))), the one-sample Kolmogorov distribution (./kolmogorov.ts).
 */

/** scipy's MAX_AUTO_N: `method='auto'` is exact when both samples have at most this many values. */
export const KS_MAX_EXACT_N = 10_000

/** A two-sample KS test result, field for field as scipy's KstestResult plus the method used. */
export interface KsResult {
  statistic: number
  pvalue: number
  method: 'exact' | 'asymp'
  /** The pooled value where the ECDF difference attains the statistic (scipy's statistic_location). */
  location: number
  /** +1 when F_x − F_y attains the statistic, −1 when F_y − F_x does (scipy's statistic_sign). */
  sign: 1 | -1
}

/**
 * Two-sample two-sided Kolmogorov–Smirnov test, as scipy 1.10 `ks_2samp(x, y, method='auto')`
 * (Hodges 1958 exact path counting; Simard & L'Ecuyer 2011 asymptotics). O(n log n + n₁·band) time, O(n) memory.
 *
 * @example ksTwoSample([1, 2, 3], [4, 5, 6]) // { statistic: 1, pvalue: 0.1, method: 'exact', … }
 */
export function ksTwoSample(x: ArrayLike<number>, y: ArrayLike<number>): KsResult {
  const a = sortedSample(x, 'x')
  const b = sortedSample(y, 'y')
  const n1 = a.length
  const n2 = b.length
  const { statistic: raw, location, sign } = ksStatistic(a, b)
  let d = raw
  if (Math.max(n1, n2) <= KS_MAX_EXACT_N) {
    const g = gcd(n1, n2)
    const lcm = (n1 / g) * n2
    const h = roundHalfEven(d * lcm)
    d = h / lcm
    if (h === 0) return { statistic: d, pvalue: 1, method: 'exact', location, sign }
    const p = n1 === n2 ? probOutsideSquare(n1, h) : probOutsideBand(n1, n2, g, h)
    if (p >= 0 && p <= 1) return { statistic: d, pvalue: p, method: 'exact', location, sign }
  }
  const [m, n] = n1 >= n2 ? [n1, n2] : [n2, n1]
  const en = (m * n) / (m + n)
  const p = kolmogorovSf(roundHalfEven(en), d)
  return { statistic: d, pvalue: Math.min(1, Math.max(0, p)), method: 'asymp', location, sign }
}

/** The KS statistic of two ascending samples with scipy's location and sign conventions. */
function ksStatistic(a: Float64Array, b: Float64Array): { statistic: number; location: number; sign: 1 | -1 } {
  const n1 = a.length
  const n2 = b.length
  // scipy takes argmax/argmin over [x sorted, y sorted], so on equal differences a value from x wins,
  // then the smallest value: track the first attaining value from each sample separately.
  let max = -Infinity
  let maxInA = Number.NaN
  let maxInB = Number.NaN
  let min = Infinity
  let minInA = Number.NaN
  let minInB = Number.NaN
  let i = 0
  let j = 0
  while (i < n1 || j < n2) {
    const t = j >= n2 || (i < n1 && a[i] <= b[j]) ? a[i] : b[j]
    const i0 = i
    const j0 = j
    while (i < n1 && a[i] <= t) i++
    while (j < n2 && b[j] <= t) j++
    const inA = i > i0
    const inB = j > j0
    // Same expression as scipy (searchsorted/n₁ − searchsorted/n₂), so ties between differences agree.
    const diff = i / n1 - j / n2
    if (diff > max) {
      max = diff
      maxInA = inA ? t : Number.NaN
      maxInB = inB ? t : Number.NaN
    } else if (diff === max) {
      if (inA && Number.isNaN(maxInA)) maxInA = t
      if (inB && Number.isNaN(maxInB)) maxInB = t
    }
    if (diff < min) {
      min = diff
      minInA = inA ? t : Number.NaN
      minInB = inB ? t : Number.NaN
    } else if (diff === min) {
      if (inA && Number.isNaN(minInA)) minInA = t
      if (inB && Number.isNaN(minInB)) minInB = t
    }
  }
  const minS = Math.min(1, Math.max(0, -min))
  if (minS > max) return { statistic: minS, location: Number.isNaN(minInA) ? minInB : minInA, sign: -1 }
  return { statistic: max, location: Number.isNaN(maxInA) ? maxInB : maxInA, sign: 1 }
}

/**
 * P(D ≥ h/n) for two samples of size n: 2·Σ_{k≥1} (−1)^(k+1)·C(2n, n − kh)/C(2n, n), evaluated as
 * 2·A₀(1 − A₁(1 − A₂(…))) with A_k = C(2n, n−(k+1)h)/C(2n, n−kh) so no alternating sum cancels.
 */
function probOutsideSquare(n: number, h: number): number {
  let p = 0
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let ratio = 1
    for (let j = 0; j < h; j++) ratio = ((n - k * h - j) * ratio) / (n + k * h + j + 1)
    p = ratio * (1 - p)
  }
  return 2 * p
}

/**
 * P(D ≥ h/lcm) for sizes m ≠ n: the share of monotone lattice paths (0,0)→(m,n) that touch or cross
 * |i·n/g − j·m/g| ≥ h. U(i, j), the exit probability of a uniformly random path through (i, j), obeys
 * U = (i·U(i−1, j) + j·U(i, j−1))/(i + j) inside the band and U = 1 outside; one column is kept.
 */
function probOutsideBand(n1: number, n2: number, g: number, h: number): number {
  const [m, n] = n1 >= n2 ? [n1, n2] : [n2, n1]
  const mg = m / g
  const ng = n / g
  // column[j] = U(i, j); entries above the band were never written and stay 1 (outside).
  const column = new Float64Array(n + 1).fill(1)
  const top0 = Math.min(Math.ceil(h / mg), n + 1)
  column.fill(0, 0, top0)
  for (let i = 1; i <= m; i++) {
    // Inside cells of column i: (ng·i − h)/mg < j < (ng·i + h)/mg.
    const bottom = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n)
    const top = Math.min(Math.ceil((ng * i + h) / mg), n + 1)
    if (top <= bottom) return 1
    let below = bottom === 0 ? 0 : 1 // U(i, bottom − 1): outside, unless there is no such cell
    for (let j = bottom; j < top; j++) {
      below = (column[j] * i + below * j) / (i + j)
      column[j] = below
    }
    // Cells below `bottom` are never read again: the band only moves up as i grows.
  }
  return column[n]
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}

/** Round half to even, as numpy's np.round (the scipy source rounds d·lcm and n₁n₂/(n₁+n₂) with it). */
function roundHalfEven(x: number): number {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}
