import { assertCounts } from './counts.ts'
import { gammaQ } from './gamma.ts'

/** The chi-squared test of homogeneity on a 2×k table: statistic, degrees of freedom and p-value. */
export interface Chi2Result {
  statistic: number
  dof: number
  pvalue: number
}

/**
 * Chi-squared survival function P(X > x) for `dof` degrees of freedom: Q(dof/2, x/2), as
 * scipy.stats.chi2.sf (A&S 26.4.19). 1 for x ≤ 0; NaN for dof ≤ 0.
 */
export function chi2Sf(x: number, dof: number): number {
  if (!(dof > 0) || Number.isNaN(x)) return Number.NaN
  if (x <= 0) return 1
  return gammaQ(dof / 2, x / 2)
}

/**
 * Pearson's chi-squared test of homogeneity of two count vectors, as scipy's
 * `chi2_contingency([ref, cur], correction=False)` after dropping columns empty on both sides:
 * expected E_rj = R_r·C_j/N, statistic Σ (O − E)²/E, dof = k' − 1, p = chi2Sf(statistic, dof).
 * Where scipy raises or degenerates (fewer than two non-empty columns, or a side with no counts) the
 * table carries no evidence of a difference: statistic 0, p 1, dof max(k' − 1, 0).
 *
 * @example chi2Homogeneity([10, 20], [30, 5]) // { statistic: 18.73…, dof: 1, pvalue: 1.51e-5 }
 */
export function chi2Homogeneity(refCounts: ArrayLike<number>, curCounts: ArrayLike<number>): Chi2Result {
  assertCounts(refCounts, curCounts)
  let refTotal = 0
  let curTotal = 0
  let columns = 0
  for (let j = 0; j < refCounts.length; j++) {
    refTotal += refCounts[j]
    curTotal += curCounts[j]
    if (refCounts[j] + curCounts[j] > 0) columns++
  }
  const dof = Math.max(columns - 1, 0)
  if (columns < 2 || refTotal === 0 || curTotal === 0) return { statistic: 0, dof, pvalue: 1 }
  const total = refTotal + curTotal
  let statistic = 0
  for (let j = 0; j < refCounts.length; j++) {
    const column = refCounts[j] + curCounts[j]
    if (column === 0) continue
    // Same operation order as scipy's expected_freq: (row total × column total) / grand total.
    const expectedRef = (refTotal * column) / total
    const expectedCur = (curTotal * column) / total
    statistic += (refCounts[j] - expectedRef) ** 2 / expectedRef + (curCounts[j] - expectedCur) ** 2 / expectedCur
  }
  return { statistic, dof, pvalue: chi2Sf(statistic, dof) }
}
