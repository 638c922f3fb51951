import type { DeviceCounts, RateMetric, RateMoments } from '../formats/rollout.ts'

/**
 * An always-valid one-sided test of H0: δ ≤ margin against H1: δ > margin, where δ is the mean of
 * per-device rates (one sample: δ = μ_c, margin = `max`) or their difference (two samples:
 * δ = μ_c − μ_b, margin = `maxDiff`). The device is the unit, so the test is on per-device rates.
 *
 * The statistic is the mixture SPRT (mSPRT) of Johari, Pekelis, Walsh, "Always Valid Inference:
 * Bringing Sequential Analysis to A/B Testing" (arXiv:1512.04922, 2015; Operations Research 2022), their mSPRT for
 * normal data with a normal mixing distribution: with d = Δ̂ − margin and V = Var(Δ̂) (= σ²/n in their notation),
 *
 *   Λ₂ = sqrt(V / (V + τ²)) · exp(τ² d² / (2 V (V + τ²)))        (mixing θ ~ N(margin, τ²)).
 *
 * One-sided handling: we mix over θ > margin only (half-normal, density 2·N(θ; margin, τ²) on
 * θ > margin). Integrating the Gaussian likelihood ratio exp((θ−m)d/V − (θ−m)²/(2V)) against it gives
 *
 *   Λ₊ = 2 · Φ(d·τ / sqrt(V (V + τ²))) · Λ₂.
 *
 * Each ratio LR(θ vs margin) with θ > margin is a non-negative supermartingale under every δ ≤ margin
 * (its expectation per step is exp((θ−m)(δ−m)/…) ≤ 1), so is the mixture, and Ville's inequality gives
 * P(∃n: Λ₊ₙ ≥ 1/α) ≤ α over the whole composite null (the argument of JPW's validity proof; Howard et al. 2021, "Time-uniform,
 * nonparametric, nonasymptotic confidence sequences", §3 on one-sided mixtures). The always-valid
 * p-value is pₙ = min(1, 1 / maxₖ≤ₙ Λ₊ₖ); rejecting at the first look with Λ₊ ≥ 1/α is the same
 * decision, which is why a stateless `decide` (evaluated at every look, rolling back at the first
 * rejection) needs no running maximum. Like JPW's deployment, V is the plug-in estimate
 * s_c²/n_c (+ s_b²/n_b) from the per-device rates: the Gaussian model is asymptotic (CLT per arm).
 */
export interface SequentialResult {
  /** Estimated δ: candidate mean rate (− baseline mean rate). */
  estimate: number
  margin: number
  /** Var(estimate), plug-in. */
  variance: number
  tau: number
  /** Λ₊ at this look (may be Infinity). */
  lambda: number
  /** min(1, 1/Λ₊) at this look; the always-valid p-value is the running minimum of these. */
  pvalue: number
  alpha: number
  reject: boolean
}

/** Mixing sd used when a guardrail sets none: breaches of about one percentage point are what canaries look for (JPW §4: τ near the effects expected). */
export const DEFAULT_TAU = 0.01

/**
 * Per-device rates of one metric, from device rows; devices with a zero denominator are left out.
 * Each rate is clamped into [0, 1] (errors include failed loads, which have no inference), so one
 * device moves a mean of n devices by at most 1/n whatever it reports.
 */
export function deviceRates(devices: readonly DeviceCounts[], metric: RateMetric): number[] {
  const out: number[] = []
  for (const d of devices) {
    if (metric === 'shadow_disagreement') {
      if (d.compared > 0) out.push(clampRate(1 - d.agreed / d.compared))
    } else if (d.inferences > 0) {
      out.push(clampRate((metric === 'error_rate' ? d.errors : d.fallbacks) / d.inferences))
    }
  }
  return out
}

function clampRate(x: number): number {
  return x > 1 ? 1 : x < 0 ? 0 : x
}

/** Sufficient statistics {n, Σx, Σx²} of a list of per-device rates. */
export function momentsOf(rates: readonly number[]): RateMoments {
  let sum = 0
  let sumSq = 0
  for (const r of rates) {
    sum += r
    sumSq += r * r
  }
  return { n: rates.length, sum, sumSq }
}

/** Mean and unbiased sample variance from moments (n ≥ 2; rounding below zero is clamped). */
export function meanVariance(m: RateMoments): { mean: number; variance: number } {
  const mean = m.sum / m.n
  const variance = m.n > 1 ? Math.max(0, (m.sumSq - m.n * mean * mean) / (m.n - 1)) : Number.NaN
  return { mean, variance }
}

/**
 * Standard normal CDF Φ(z) = ½·erfc(−z/√2). erfc(x) for x < 2 from the positive series
 * erf(x) = (2/√π)·e^(−x²)·Σ 2ⁿx^(2n+1)/(1·3···(2n+1)) (A&S 7.1.6), for x ≥ 2 from the continued fraction
 * erfc(x) = (e^(−x²)/√π)·1/(x + ½/(x + 1/(x + 3/2/(x + …)))) (A&S 7.1.14) by modified Lentz; agrees with
 * the incomplete-gamma form ½·Q(½, z²/2) to 1e-12 relative and is several times faster (it runs at every look).
 */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN
  const x = -z / Math.SQRT2
  return x < 0 ? 1 - 0.5 * erfcPositive(-x) : 0.5 * erfcPositive(x)
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI)

function erfcPositive(x: number): number {
  if (x < 2) {
    let term = x
    let sum = x
    for (let n = 1; n < 200 && term > sum * 1e-17; n++) {
      term *= (2 * x * x) / (2 * n + 1)
      sum += term
    }
    return 1 - TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum
  }
  if (x > 27) return 0 // below the smallest double
  // erfc(x)·√π·e^(x²) = 1/(x + a₁/(x + a₂/(x + …))) with aₖ = k/2.
  const tiny = 1e-300
  let f = x
  let c = x
  let d = 0
  for (let k = 1; k < 300; k++) {
    const a = k / 2
    d = x + a * d
    d = Math.abs(d) < tiny ? tiny : d
    c = x + a / c
    c = Math.abs(c) < tiny ? tiny : c
    d = 1 / d
    const delta = c * d
    f *= delta
    if (Math.abs(delta - 1) < 1e-16) break
  }
  return Math.exp(-x * x) / (f * Math.sqrt(Math.PI))
}

/** ln Λ₊ of the one-sided normal-mixture SPRT above (−Infinity when Λ₊ underflows). */
export function logMixtureLR(d: number, variance: number, tau: number): number {
  const t2 = tau * tau
  if (variance === 0) return d > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY
  const z = (d * tau) / Math.sqrt(variance * (variance + t2))
  return (
    Math.LN2 +
    Math.log(normalCdf(z)) +
    0.5 * Math.log(variance / (variance + t2)) +
    (t2 * d * d) / (2 * variance * (variance + t2))
  )
}

/**
 * The one-sided mSPRT at one look: rejects "δ ≤ margin" when Λ₊ ≥ 1/alpha. `baseline` null: one
 * sample (candidate mean vs margin). Both arms need n ≥ 2.
 *
 * @example mixtureSprt(momentsOf(candRates), momentsOf(baseRates), 0.005, 0.025)
 */
export function mixtureSprt(
  candidate: RateMoments,
  baseline: RateMoments | null,
  margin: number,
  alpha: number,
  tau = DEFAULT_TAU,
): SequentialResult {
  const c = meanVariance(candidate)
  let estimate = c.mean
  let variance = c.variance / candidate.n
  if (baseline !== null) {
    const b = meanVariance(baseline)
    estimate -= b.mean
    variance += b.variance / baseline.n
  }
  const logLambda = logMixtureLR(estimate - margin, variance, tau)
  const lambda = Math.exp(logLambda)
  return {
    estimate,
    margin,
    variance,
    tau,
    lambda,
    pvalue: Math.min(1, Math.exp(-logLambda)),
    alpha,
    reject: logLambda >= Math.log(1 / alpha),
  }
}
