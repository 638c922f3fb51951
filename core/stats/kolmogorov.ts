import { stirlingCorrection } from './gamma.ts'

/**
 * The distribution of the one-sample Kolmogorov–Smirnov statistic D_n = sup|F_n − F| for a sample of n,
 * as scipy's `kstwo` (scipy/stats/_ksstats.py), which ks_2samp uses for its asymptotic p-value.
 *
 * Branches follow Simard & L'Ecuyer (2011), "Computing the Two-Sided Kolmogorov-Smirnov Distribution",
 * J. Stat. Softw. 39(11), with scipy's cut-offs, so approximations are the same ones scipy makes:
 * - n·d ≤ 1 or n·d ≥ n − 1: the closed forms of Ruben & Gambino (1982);
 * - d ≥ ½, or n·d² large: 2·Smirnov(n, d), exact for d ≥ ½ because D⁺ and D⁻ cannot both exceed ½,
 *   and otherwise off only by P(D⁺ ≥ d and D⁻ ≥ d), which is negligible there;
 * - otherwise the exact Durbin (1968) matrix algorithm in the form of Marsaglia, Tsang & Wang (2003),
 *   or for large n the Pelz & Good (1976) asymptotic series.
 * scipy uses Pomeranz's recursion for n ≤ 140 and 0.754693 < n·d² ≤ 4; it is exact, as is the Durbin
 * matrix used here instead, so the two agree to rounding.
 */

const LN_SQRT_2PI = 0.9189385332046727
const SQRT_2PI = 2.5066282746310002
const MIN_LOG = -708.3964185322641 // ln of the smallest normal double, Cephes MINLOG
const SCALE_BITS = 128
const SCALE_UP = 2 ** SCALE_BITS
const SCALE_DOWN = 2 ** -SCALE_BITS

/**
 * Survival function P(D_n ≥ d) of the two-sided one-sample Kolmogorov statistic, as
 * scipy.stats.kstwo.sf(d, n) (Simard & L'Ecuyer 2011 branch selection, see the file comment).
 */
export function kolmogorovSf(n: number, d: number): number {
  if (!Number.isInteger(n) || n < 1 || Number.isNaN(d)) return Number.NaN
  if (d >= 1) return 0
  if (d <= 0) return 1
  const t = n * d
  if (t <= 1) {
    // Ruben–Gambino: P(D_n ≤ d) = n!/nⁿ·(2t − 1)ⁿ for 1/2n ≤ d ≤ 1/n.
    if (t <= 0.5) return 1
    let cdf: number
    if (n <= 140) {
      cdf = 1
      for (let i = 1; i <= n; i++) cdf *= i * (1 / n) * (2 * t - 1)
    } else {
      cdf = Math.exp(logFactorialOverPower(n) + n * Math.log(2 * t - 1))
    }
    return clip(1 - cdf)
  }
  if (t >= n - 1) return clip(2 * (1 - d) ** n) // Ruben–Gambino upper tail
  if (d >= 0.5) return clip(2 * smirnovSf(n, d))
  const nd2 = t * d
  if (n <= 140) {
    if (nd2 <= 4) return clip(1 - durbinCdf(n, d))
    return clip(2 * smirnovSf(n, d))
  }
  if (nd2 >= 370) return 0
  if (nd2 >= 2.2) return clip(2 * smirnovSf(n, d))
  const cdf = n <= 100_000 && n * d ** 1.5 <= 1.4 ? durbinCdf(n, d) : pelzGoodCdf(n, d)
  return clip(1 - cdf)
}

/**
 * Survival function P(D⁺_n ≥ d) of the one-sided Smirnov statistic, as scipy.special.smirnov(n, d):
 * the Birnbaum–Tingey (1951) sum d·Σ_{v=0}^{⌊n(1−d)⌋} C(n,v)(d + v/n)^(v−1)(1 − d − v/n)^(n−v),
 * each term in Loader's (2000) binomial form, with scipy's special cases and its n > 10⁶ approximation.
 */
export function smirnovSf(n: number, d: number): number {
  if (!Number.isInteger(n) || n < 1 || !(d >= 0 && d <= 1)) return Number.NaN
  if (n === 1) return 1 - d
  if (d === 0) return 1
  if (d === 1) return 0
  // n·d as an unevaluated sum hi + lo, so its floor and 1 − d − v/n are exact near integers.
  const [hi, lo] = twoProduct(n, d)
  let floorNd = Math.floor(hi)
  if (floorNd === hi && lo < 0) floorNd -= 1
  const fractional = floorNd !== hi || lo !== 0
  if (floorNd === 0 || (floorNd === 1 && !fractional)) {
    // d ≤ 1/n: P(D⁺ < d) = d·(1 + d)^(n−1).
    return 1 - d * (1 + d) ** (n - 1)
  }
  if (-2 * n * d * d < MIN_LOG) return 0
  if (floorNd >= n - 1) return (1 - d) ** n
  if (n > 1_000_000) {
    // scipy's approximation beyond SMIRNOV_MAX_COMPUTE_N: P ≈ exp(−(6nd + 1)²/18n).
    return Math.exp(-((6 * n * d + 1) ** 2) / 18 / n)
  }
  // Term v is the binomial probability b(v; n, p) with p = d + v/n, divided by p. Every term is
  // positive, and each is taken in Loader's (2000) saddle-point form, whose pieces stay small where
  // ln C(n, v) and v·ln p would each be ~n and cancel.
  const last = n - floorNd - 1 // terms with v > last have 1 − d − v/n ≤ 0
  let sum = Math.exp(n * Math.log1p(-d) - Math.log(d)) // v = 0: (1 − d)ⁿ/d
  const base = stirlingCorrection(n) + 0.5 * Math.log(n / (2 * Math.PI))
  let previous = sum
  for (let v = 1; v <= last; v++) {
    const np = v + hi + lo // n·p
    const nq = n - v - hi - lo // n·(1 − p), without cancellation
    const logTerm =
      base -
      stirlingCorrection(v) -
      stirlingCorrection(n - v) -
      deviance(v, np) -
      deviance(n - v, nq) -
      0.5 * Math.log(v * (n - v)) -
      Math.log(np / n)
    const term = logTerm > -745 ? Math.exp(logTerm) : 0
    sum += term
    // The terms are unimodal in v (scipy stops on the same premise): once past the peak, stop when
    // all remaining terms together cannot reach the last bit of the sum.
    if (term < previous && term * (last - v) < 2 ** -60 * sum) break
    previous = term
  }
  return Math.min(1, d * sum)
}

/**
 * Loader's deviance term bd0(x, M) = x·ln(x/M) + M − x (Loader 2000, "Fast and Accurate Computation of
 * Binomial Probabilities"), by its series in (x − M)/(x + M) when x is near M.
 */
function deviance(x: number, M: number): number {
  if (Math.abs(x - M) < 0.1 * (x + M)) {
    const v = (x - M) / (x + M)
    let s = (x - M) * v
    let ej = 2 * x * v
    const v2 = v * v
    for (let j = 1; j < 1000; j++) {
      ej *= v2
      const next = s + ej / (2 * j + 1)
      if (next === s) return s
      s = next
    }
    return s
  }
  return x * Math.log(x / M) + M - x
}

/** ln(n!/nⁿ) by Stirling: ½ln n − n + ½ln 2π + μ(n), as scipy's _log_nfactorial_div_n_pow_n. */
function logFactorialOverPower(n: number): number {
  return 0.5 * Math.log(n) - n + LN_SQRT_2PI + stirlingCorrection(n)
}

/**
 * P(D_n < d) by Durbin's matrix: n!/nⁿ·(Hⁿ)_kk with k = ⌈nd⌉, h = k − nd and H the (2k−1)² matrix
 * H_ij = (1 if i − j + 1 ≥ 0)/(i − j + 1)!, first column and last row corrected by hⁱ terms
 * (Marsaglia, Tsang & Wang 2003, eq. 2). Powers by squaring with explicit binary exponents.
 */
function durbinCdf(n: number, d: number): number {
  const nd = n * d
  if (nd <= 0.5) return 0
  const k = Math.ceil(nd)
  const h = k - nd
  const m = 2 * k - 1
  const H = new Float64Array(m * m)
  for (let i = 0; i < m; i++) {
    let inverseFactorial = 1 // 1/(i − j + 1)!
    for (let j = i + 1; j >= 0; j--) {
      if (j < m) H[i * m + j] = inverseFactorial
      inverseFactorial /= i - j + 2
    }
  }
  let factorial = 1
  for (let i = 0; i < m; i++) {
    factorial *= i + 1
    H[i * m] -= h ** (i + 1) / factorial // first column
    H[(m - 1) * m + (m - 1 - i)] -= h ** (i + 1) / factorial // last row
  }
  // The corner was corrected twice; it also gets (2h − 1)^m/m! when h > ½.
  H[(m - 1) * m] += Math.max(2 * h - 1, 0) ** m / factorial
  let power: Float64Array | undefined // H^(bits seen so far), undefined = identity
  let powerExponent = 0
  let square: Float64Array = H
  let squareExponent = 0
  for (let e = n; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) {
      power = power === undefined ? square.slice() : multiply(power, square, m)
      powerExponent += squareExponent
    }
    if (e > 1) {
      square = multiply(square, square, m)
      squareExponent *= 2
      if (Math.abs(square[(k - 1) * m + (k - 1)]) > SCALE_UP) {
        for (let i = 0; i < square.length; i++) square[i] *= SCALE_DOWN
        squareExponent += SCALE_BITS
      }
    }
  }
  let p = power === undefined ? 1 : power[(k - 1) * m + (k - 1)]
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n
    if (Math.abs(p) < SCALE_DOWN) {
      p *= SCALE_UP
      powerExponent -= SCALE_BITS
    }
  }
  return clip(ldexp(p, powerExponent))
}

/** Row-major product of two m×m matrices. */
function multiply(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const c = new Float64Array(m * m)
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < m; l++) {
      const ail = a[i * m + l]
      if (ail === 0) continue
      for (let j = 0; j < m; j++) c[i * m + j] += ail * b[l * m + j]
    }
  }
  return c
}

/**
 * P(D_n ≤ d) by the Pelz & Good (1976) expansion K0 + K1/√n + K2/n + K3/n^{3/2} with z = d·√n, each
 * Kᵢ written as a theta series in q = exp(−π²/8z²) (Simard & L'Ecuyer 2011, eq. 9).
 */
function pelzGoodCdf(n: number, d: number): number {
  const z = Math.sqrt(n) * d
  const z2 = z * z
  const z4 = z2 * z2
  const z6 = z4 * z2
  const logQ = (-Math.PI * Math.PI) / 8 / z2
  if (logQ < -708) return 0
  const q = Math.exp(logQ)
  const pi2 = Math.PI ** 2
  const pi4 = pi2 * pi2
  const pi6 = pi4 * pi2
  // Σ over odd m = 2k − 1 of c_i(m)·q^(m²), by Horner in q^(8k) since (2k+1)² − (2k−1)² = 8k.
  const kMax = Math.ceil((16 * z) / Math.PI)
  const K = [0, 0, 0, 0]
  for (let k = kMax; k >= 1; k--) {
    const m2 = (2 * k - 1) ** 2
    const m4 = m2 * m2
    const m6 = m4 * m2
    const qk = q ** (8 * k)
    K[0] = K[0] * qk + 1
    K[1] = K[1] * qk + (-z2 + (pi2 / 4) * m2)
    K[2] = K[2] * qk + (6 * z6 + 2 * z4 + (((2 * z4 - 5 * z2) * pi2) / 4) * m2 + ((pi4 * (1 - 2 * z2)) / 16) * m4)
    K[3] =
      K[3] * qk +
      (-30 * z6 -
        90 * z ** 8 +
        ((pi2 * (135 * z4 - 96 * z6)) / 4) * m2 +
        ((pi4 * (-60 * z2 + 212 * z4)) / 16) * m4 +
        ((pi6 * (5 - 30 * z2)) / 64) * m6)
  }
  const divisors = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10]
  for (let i = 0; i < 4; i++) K[i] = (K[i] * q * SQRT_2PI) / divisors[i]
  // The even theta terms of K2 and K3: Σ k²·r^(k²) with r = exp(−π²/2z²).
  const r = Math.exp(-pi2 / 2 / z2)
  let even2 = 0
  let even3 = 0
  for (let k = kMax; k >= 1; k--) {
    const k2 = k * k
    const rk = r ** k2
    even2 += k2 * rk
    even3 += (3 * z2 - pi2 * k2) * k2 * rk
  }
  K[2] += (even2 * pi2 * SQRT_2PI) / (-36 * z ** 3)
  K[3] += (even3 * pi2 * SQRT_2PI) / (216 * z6)
  return K[0] + K[1] / Math.sqrt(n) + K[2] / n + K[3] / n ** 1.5
}

/** Dekker's exact product: a·b = hi + lo with hi the rounded product (Dekker 1971). */
function twoProduct(a: number, b: number): [number, number] {
  const hi = a * b
  const [ah, al] = split(a)
  const [bh, bl] = split(b)
  const lo = ah * bh - hi + ah * bl + al * bh + al * bl
  return [hi, lo]
}

/** Veltkamp split of a double into two halves of 26 bits each. */
function split(a: number): [number, number] {
  const c = 134217729 * a // 2^27 + 1
  const high = c - (c - a)
  return [high, a - high]
}

/** x·2^e without intermediate overflow or underflow for |e| beyond the exponent range. */
function ldexp(x: number, e: number): number {
  while (e > 1000) {
    x *= 2 ** 1000
    e -= 1000
  }
  while (e < -1000) {
    x *= 2 ** -1000
    e += 1000
  }
  return x * 2 ** e
}

function clip(p: number): number {
  return p < 0 ? 0 : p > 1 ? 1 : p
}
