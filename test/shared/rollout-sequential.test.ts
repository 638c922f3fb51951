import { describe, expect, it } from 'vitest'
import type { RateMoments } from '../../core/formats/rollout.ts'
import { logMixtureLR, mixtureSprt, momentsOf, normalCdf } from '../../core/rollout/sequential.ts'
import { seededNormal, seededRandom } from '../../scripts/lib/random.ts'

const ALPHA = 0.05

interface Sim {
  seed: number
  sims: number
  looks: number
  /** Devices joining each arm between two looks. */
  perLook: number
  baseline: number
  candidate: number
  sd: number
  margin: number
  twoSample: boolean
}

/** Fraction of simulated rollouts the test rejects at any of `looks` looks (continuous monitoring). */
function rejectionRate(s: Sim): number {
  const normal = seededNormal(seededRandom(s.seed))
  let rejected = 0
  for (let k = 0; k < s.sims; k++) {
    const c: RateMoments = { n: 0, sum: 0, sumSq: 0 }
    const b: RateMoments = { n: 0, sum: 0, sumSq: 0 }
    for (let look = 0; look < s.looks; look++) {
      for (let i = 0; i < s.perLook; i++) {
        add(c, s.candidate + s.sd * normal())
        if (s.twoSample) add(b, s.baseline + s.sd * normal())
      }
      if (mixtureSprt(c, s.twoSample ? b : null, s.margin, ALPHA).reject) {
        rejected++
        break
      }
    }
  }
  return rejected / s.sims
}

function add(m: RateMoments, x: number): void {
  m.n += 1
  m.sum += x
  m.sumSq += x * x
}

const SIMS = 600
const tolerance = 4 * Math.sqrt((ALPHA * (1 - ALPHA)) / SIMS)
const base = { sims: SIMS, looks: 30, perLook: 10, baseline: 0.02, sd: 0.02, margin: 0.005, twoSample: true }

describe('mixture SPRT (one-sided, always valid)', () => {
  it.each([
    ['two samples, δ exactly at the margin', { ...base, seed: 1, candidate: 0.025 }],
    ['two samples, δ below the margin', { ...base, seed: 2, candidate: 0.022 }],
    ['one sample, mean exactly at max', { ...base, seed: 3, candidate: 0.01, margin: 0.01, twoSample: false }],
  ])('under H0 (%s) rejects at most α over 30 looks', (_name, sim) => {
    const rate = rejectionRate(sim)
    expect(rate).toBeLessThanOrEqual(ALPHA + tolerance)
  })

  it.each([
    ['two samples, candidate 2 points worse', { ...base, seed: 4, sims: 200, candidate: 0.04 }],
    [
      'one sample, candidate at twice max',
      { ...base, seed: 5, sims: 200, candidate: 0.02, margin: 0.01, twoSample: false },
    ],
  ])('under a clear breach (%s) rejects', (_name, sim) => {
    expect(rejectionRate(sim)).toBeGreaterThan(0.95)
  })

  it('never rejects when the candidate is far better than the margin allows', () => {
    const better = momentsOf(Array.from({ length: 500 }, (_, i) => (i % 2 ? 0.001 : 0.003)))
    const worse = momentsOf(Array.from({ length: 500 }, (_, i) => (i % 2 ? 0.05 : 0.07)))
    const r = mixtureSprt(better, worse, 0.005, ALPHA)
    expect(r.reject).toBe(false)
    expect(r.pvalue).toBe(1)
  })

  it('Λ₊ is the two-sided JPW statistic times 2Φ(dτ/√(V(V+τ²)))', () => {
    const [d, V, tau] = [0.004, 1e-6, 0.01]
    const twoSided = Math.sqrt(V / (V + tau * tau)) * Math.exp((tau * tau * d * d) / (2 * V * (V + tau * tau)))
    const expected = 2 * normalCdf((d * tau) / Math.sqrt(V * (V + tau * tau))) * twoSided
    expect(Math.exp(logMixtureLR(d, V, tau))).toBeCloseTo(expected, 6)
    expect(normalCdf(0)).toBeCloseTo(0.5, 12)
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 10)
    expect(normalCdf(-1.959963984540054)).toBeCloseTo(0.025, 10)
  })
})
