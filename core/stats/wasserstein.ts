import { sortedSample } from './sample.ts'

/**
 * Wasserstein-1 (earth mover's) distance between two samples with equal weights, as scipy's
 * `wasserstein_distance(u, v)`: W₁ = ∫ |F_u(t) − F_v(t)| dt, evaluated exactly as the sum over
 * consecutive pooled values t_k < t_{k+1} of |F_u(t_k) − F_v(t_k)|·(t_{k+1} − t_k)
 * (Ramdas, Garcia & Cuturi 2017, eq. 1). Compensated summation keeps long sums at full precision.
 *
 * @example wassersteinDistance([0, 1, 3], [5, 6, 8, 9]) // 5.666…
 */
export function wassersteinDistance(u: ArrayLike<number>, v: ArrayLike<number>): number {
  const a = sortedSample(u, 'u')
  const b = sortedSample(v, 'v')
  const n1 = a.length
  const n2 = b.length
  let i = 0
  let j = 0
  let sum = 0
  let compensation = 0 // Neumaier's running error term
  let previous = Math.min(a[0], b[0])
  while (i < n1 || j < n2) {
    const t = j >= n2 || (i < n1 && a[i] <= b[j]) ? a[i] : b[j]
    // F_u − F_v is constant on [previous, t): both ECDFs count values ≤ previous, i.e. i and j now.
    const term = Math.abs(i / n1 - j / n2) * (t - previous)
    const s = sum + term
    compensation += Math.abs(sum) >= Math.abs(term) ? sum - s + term : term - s + sum
    sum = s
    while (i < n1 && a[i] <= t) i++
    while (j < n2 && b[j] <= t) j++
    previous = t
  }
  return sum + compensation
}
