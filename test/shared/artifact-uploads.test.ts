import { describe, expect, it } from 'vitest'
import { CreateUpload, MIN_PART_BYTES, partCount, partSize } from '../../core/formats/artifact-uploads.ts'

describe('multipart upload sizes', () => {
  it('every part but the last has partBytes; the last holds the remainder, and the parts add up to the file', () => {
    for (const [size, part] of [
      [1, 5],
      [5, 5],
      [11, 5],
      [3 * MIN_PART_BYTES + 1, MIN_PART_BYTES],
    ]) {
      const n = partCount(size, part)
      const sizes = Array.from({ length: n }, (_, i) => partSize(size, part, i + 1)!)
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(size)
      expect(sizes.slice(0, -1).every((s) => s === part)).toBe(true)
      expect(sizes.at(-1)!).toBeGreaterThan(0)
      expect(sizes.at(-1)!).toBeLessThanOrEqual(part)
    }
  })

  it('part numbers outside 1..count have no size', () => {
    expect(partSize(11, 5, 0)).toBeNull()
    expect(partSize(11, 5, 4)).toBeNull()
    expect(partSize(11, 5, 1.5)).toBeNull()
  })

  it('refuses parts R2 cannot assemble (under 5 MiB) or one request cannot carry (over 100 MiB)', () => {
    expect(CreateUpload.safeParse({ size: 10, partBytes: MIN_PART_BYTES - 1 }).success).toBe(false)
    expect(CreateUpload.safeParse({ size: 10, partBytes: 101 * 1024 * 1024 }).success).toBe(false)
    expect(CreateUpload.safeParse({ size: 0, partBytes: MIN_PART_BYTES }).success).toBe(false)
    expect(CreateUpload.safeParse({ size: 10, partBytes: MIN_PART_BYTES }).success).toBe(true)
  })
})
