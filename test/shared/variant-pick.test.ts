import { describe, expect, it } from 'vitest'
import { decodeCaps, encodeCaps } from '../../core/caps.ts'
import { DeviceCaps } from '../../core/formats/telemetry.ts'
import { Variants } from '../../core/formats/variants.ts'
import { decodeExclusions, encodeExclusions, excludedFor } from '../../core/variants/exclusions.ts'
import { pickVariant, unmetRequirements } from '../../core/variants/pick.ts'
import file from '../vectors/variant-pick.json'

const variants = Variants.parse(file.variants)

describe('variant pick (golden vectors)', () => {
  it.each(file.cases as [string, unknown, string[], string | null, string][])(
    '%s',
    (_, caps, excluded, name, reason) => {
      const pick = pickVariant(variants, DeviceCaps.parse(caps), new Set(excluded))
      expect(pick.value?.name ?? null).toBe(name)
      expect(pick.reason).toBe(reason)
    },
  )

  it('names every condition a device misses', () => {
    expect(unmetRequirements(variants[0].requires, { webgpu: false, deviceMemory: 1 })).toEqual([
      'webgpu',
      'f16',
      'backends',
    ])
    expect(unmetRequirements(undefined, { webgpu: false })).toEqual([])
  })
})

describe('capabilities on the assign URL', () => {
  it('round-trip, WebNN sent only when exposed', () => {
    const caps: DeviceCaps = { webgpu: true, f16: false, webnn: true, deviceMemory: 8, cores: 4, platform: 'linux' }
    expect(encodeCaps(caps)).toBe('webgpu:1,f16:0,webnn:1,mem:8,cores:4,platform:linux')
    expect(decodeCaps(encodeCaps(caps))).toEqual(caps)
    expect(encodeCaps({ webgpu: false, webnn: false })).toBe('webgpu:0')
    expect(decodeCaps('webgpu:0,webnn:0')).toEqual({ webgpu: false, webnn: false })
  })

  it('read a malformed value as absent and a caps list from an older SDK without WebNN as none', () => {
    expect(decodeCaps('webgpu:1,mem:lots,cores:-1,platform:Mac OS,gpu:9')).toEqual({ webgpu: true })
    const fromOldSdk = decodeCaps('webgpu:0,mem:8')
    expect(unmetRequirements({ backends: ['webnn'] }, fromOldSdk)).toEqual(['backends'])
    expect(unmetRequirements({ backends: ['webnn', 'wasm'] }, fromOldSdk)).toEqual([])
  })
})

describe('exclude lists', () => {
  it('round-trip, newest versions first, and apply only to their version', () => {
    const text = encodeExclusions([
      { version: 3, variant: 'fp16' },
      { version: 4, variant: 'q8' },
    ])
    expect(text).toBe('4:q8,3:fp16')
    const back = decodeExclusions(text)
    expect([...excludedFor(back, 3)]).toEqual(['fp16'])
    expect([...excludedFor(back, 5)]).toEqual([])
  })

  it('keep at most 16 pairs, dropping the oldest versions', () => {
    const many = Array.from({ length: 20 }, (_, i) => ({ version: i + 1, variant: 'a' }))
    const kept = decodeExclusions(encodeExclusions(many))
    expect(kept).toHaveLength(16)
    expect(Math.min(...kept.map((e) => e.version))).toBe(5)
  })

  it('read anything malformed as no exclusions', () => {
    for (const bad of ['', 'fp16', '1:FP16', '0:a', '1:a,', undefined]) expect(decodeExclusions(bad)).toEqual([])
  })
})
