import { describe, expect, it } from 'vitest'
import { DEVICE_SET_EXACT_LIMIT, DeviceSet, deviceKey } from '../../core/telemetry/device-set.ts'
import { HLL_RELATIVE_ERROR } from '../../core/telemetry/hyperloglog.ts'
import { seededRandom } from '../../scripts/lib/random.ts'

const ids = (n: number, offset = 0) =>
  Array.from({ length: n }, (_, i) => `dev_${(i + offset).toString(36).padStart(8, '0')}`)

function setOf(keys: Iterable<string>): DeviceSet {
  const s = new DeviceSet()
  for (const id of keys) s.add(deviceKey(id))
  return s
}

/** A random order of `xs` from a seeded source (Fisher–Yates). */
function shuffle<T>(xs: T[], rand: () => number): T[] {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

describe('deviceKey (devicekey/1)', () => {
  it('is a stable 53-bit integer of the UTF-8 id', () => {
    const k = deviceKey('dv_7Qm2Vb9Lw1ZpJx3kR8tN')
    expect(Number.isSafeInteger(k) && k >= 0).toBe(true)
    expect(deviceKey('dv_7Qm2Vb9Lw1ZpJx3kR8tN')).toBe(k)
    expect(deviceKey('dv_7Qm2Vb9Lw1ZpJx3kR8tM')).not.toBe(k)
    // Pinned by an independent implementation (Python, over UTF-8 bytes): stored sets depend on these.
    expect([deviceKey('a'), deviceKey('dv_7Qm2Vb9Lw1ZpJx3kR8tN'), deviceKey('é')]).toEqual([
      6752038688253901,
      k,
      921117737618473,
    ])
    expect(k).toBe(4762579075150394)
    expect(new Set(ids(10_000).map(deviceKey)).size).toBe(10_000)
  })
})

describe('DeviceSet', () => {
  it(`is exact up to ${DEVICE_SET_EXACT_LIMIT} devices, duplicates counted once`, () => {
    const s = setOf([...ids(DEVICE_SET_EXACT_LIMIT), ...ids(100)])
    expect(s.isExact).toBe(true)
    expect(s.size).toBe(DEVICE_SET_EXACT_LIMIT)
    expect(s.relativeError).toBe(0)
    expect(DeviceSet.fromJSON(s.toJSON()).size).toBe(DEVICE_SET_EXACT_LIMIT)
  })

  // HyperLogLog's error is 1.04/√4096 ≈ 1.6% (one standard error); 4 standard errors never fail by chance in practice.
  it.each([2_000, 10_000, 100_000])(
    'estimates %i devices within 4 standard errors (≈6.5%) once beyond the exact limit',
    (n) => {
      const s = setOf(ids(n, 7 * n))
      expect(s.isExact).toBe(false)
      expect(s.relativeError).toBeCloseTo(HLL_RELATIVE_ERROR, 12)
      expect(Math.abs(s.size - n) / n).toBeLessThan(4 * HLL_RELATIVE_ERROR)
    },
  )

  it('unions in any order and grouping to the set of the union (exact, and as one HyperLogLog)', () => {
    const rand = seededRandom(11)
    for (const n of [300, 5_000]) {
      const all = ids(n)
      // Overlapping parts, as the same device reports in many minutes.
      const parts = Array.from({ length: 7 }, () => all.filter(() => rand() < 0.4))
      const expected = setOf(new Set(parts.flat())).toJSON()
      for (let trial = 0; trial < 5; trial++) {
        const order = shuffle(
          parts.map((p) => setOf(p)),
          rand,
        )
        const left = order.slice(0, 3).reduce((acc, p) => acc.union(p), new DeviceSet())
        const right = order.slice(3).reduce((acc, p) => acc.union(p), new DeviceSet())
        expect(right.union(left).toJSON()).toEqual(expected)
      }
      expect('exact' in expected).toBe(n < DEVICE_SET_EXACT_LIMIT)
    }
  })

  it('round-trips through JSON, and refuses malformed input', () => {
    const big = setOf(ids(3_000))
    expect(DeviceSet.fromJSON(big.toJSON()).toJSON()).toEqual(big.toJSON())
    expect(() => DeviceSet.fromJSON({ exact: [-1] })).toThrow(TypeError)
    expect(() => DeviceSet.fromJSON({ hll: btoa('short') })).toThrow(TypeError)
  })

  it('union with itself changes nothing (idempotent)', () => {
    const s = setOf(ids(2_000))
    const before = s.toJSON()
    s.union(s)
    expect(s.toJSON()).toEqual(before)
  })
})
