import { describe, expect, it } from 'vitest'
import { bucketOf, bucketThreshold, inPercent, murmur3x86_32 } from '../../core/bucket.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import file from '../vectors/bucket.json'

type Vector = [string, string, string, number, number, number, boolean]
const vectors = file.vectors as Vector[]
const utf8 = (s: string) => new TextEncoder().encode(s)

describe('bucket/1', () => {
  it('has enough shared vectors, including non-ASCII ids', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(50)
    // Non-ASCII ids: the range starts at NUL on purpose.
    // eslint-disable-next-line no-control-regex
    expect(vectors.some(([, , id]) => /[^\x00-\x7f]/.test(id))).toBe(true)
  })

  it.each(vectors)('%s', (_name, salt, deviceId, percent, hash, bucket, inCandidate) => {
    expect(murmur3x86_32(utf8(`${salt}:${deviceId}`))).toBe(hash)
    expect(bucketOf(salt, deviceId)).toBe(bucket)
    expect(inPercent(salt, deviceId, percent)).toBe(inCandidate)
  })

  it('matches published MurmurHash3 x86_32 values over UTF-8 bytes', () => {
    expect(murmur3x86_32(utf8(''))).toBe(0)
    expect(murmur3x86_32(utf8(''), 1)).toBe(0x514e28b7)
    expect(murmur3x86_32(utf8('hello'))).toBe(0x248bfa47)
    expect(murmur3x86_32(utf8('é'))).toBe(0x10110787)
  })

  it('rounds percents to the 0.001% resolution', () => {
    expect(bucketThreshold(2.007)).toBe(2007)
    expect(bucketThreshold(2.0074)).toBe(2007)
    // Math.round(percent × 1000) on binary doubles: 2.0075 × 1000 is 2007.4999999999998.
    expect(bucketThreshold(2.0075)).toBe(2007)
    expect(bucketThreshold(2.0085)).toBe(2009)
    expect(bucketThreshold(0)).toBe(0)
    expect(bucketThreshold(100)).toBe(100_000)
    expect(() => bucketThreshold(100.5)).toThrow(RangeError)
    expect(() => bucketThreshold(Number.NaN)).toThrow(RangeError)
  })

  it('puts 1% of 100k seeded devices in every 1% slice, within 4·sqrt(p(1−p)/n)', () => {
    const rand = seededRandom(20260426)
    const n = 100_000
    const slices = new Array<number>(100).fill(0)
    for (let i = 0; i < n; i++) {
      const id = `${Math.floor(rand() * 2 ** 32).toString(16)}-${i}`
      slices[Math.floor(bucketOf('rollout-share-test', id) / 1000)]++
    }
    const p = 0.01
    const tolerance = 4 * Math.sqrt((p * (1 - p)) / n)
    for (const count of slices) expect(Math.abs(count / n - p)).toBeLessThanOrEqual(tolerance)
  })

  it('is monotone: a device inside a share stays inside every larger share', () => {
    const rand = seededRandom(7)
    for (let i = 0; i < 2000; i++) {
      const id = `d${Math.floor(rand() * 1e9)}`
      const b = bucketOf('mono', id)
      const steps = [1, 5, 25, 50, 100]
      const first = steps.findIndex((s) => b < bucketThreshold(s))
      for (let s = 0; s < steps.length; s++) expect(inPercent('mono', id, steps[s])).toBe(s >= first && first !== -1)
    }
  })
})
