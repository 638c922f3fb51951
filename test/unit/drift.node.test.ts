// The slow drift vectors (large samples, n > 20000 Kolmogorov sums), Node only; the rest run in
// every runtime from test/shared/drift.test.ts.
import { describe, expect, it } from 'vitest'
import { pValuesEqual } from '../../core/drift/index.ts'
import { kolmogorovSf, ksTwoSample } from '../../core/stats/index.ts'
import { generateSample, type SampleSpec } from '../helpers/drift-samples.ts'
import { seededNormal, seededRandom } from '../../scripts/lib/random.ts'
import ksFx from '../vectors/drift-ks.json'

describe('two-sample KS, heavy vectors (scipy ks_2samp, method auto)', () => {
  it.each(ksFx.generated.filter((c) => c.weight === 'heavy'))(
    '$name',
    ({ gen, statistic, pvalue, method, location, sign }) => {
      const r = ksTwoSample(generateSample(gen.x as SampleSpec), generateSample(gen.y as SampleSpec))
      expect(Math.abs(r.statistic - statistic)).toBeLessThanOrEqual(1e-9)
      expect(pValuesEqual(r.pvalue, pvalue), `p ${r.pvalue} vs ${pvalue}`).toBe(true)
      expect([r.method, r.location, r.sign]).toEqual([method, location, sign])
    },
  )

  it.each(ksFx.kstwo.filter(([n]) => n > 20_000))('kstwo.sf n=%s d=%s', (n, d, expected) => {
    expect(pValuesEqual(kolmogorovSf(n, d), expected), `${kolmogorovSf(n, d)} vs ${expected}`).toBe(true)
  })

  it('is symmetric in its samples: same statistic and p-value, opposite sign', () => {
    const normal = seededNormal(seededRandom(42))
    for (const [n1, n2] of [
      [7, 13],
      [120, 95],
      [2000, 2001],
      [12_000, 300],
    ]) {
      const x = Array.from({ length: n1 }, () => Math.round(normal() * 100) / 100)
      const y = Array.from({ length: n2 }, () => Math.round((normal() + 0.1) * 100) / 100)
      const a = ksTwoSample(x, y)
      const b = ksTwoSample(y, x)
      expect(b.statistic).toBe(a.statistic)
      expect(pValuesEqual(a.pvalue, b.pvalue)).toBe(true)
      if (a.statistic > 0) expect(b.sign).toBe(-a.sign)
    }
  })
})
