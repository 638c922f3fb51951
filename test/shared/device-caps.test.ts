import { describe, expect, it } from 'vitest'
import { SketchJson } from '../../core/formats/sketch.ts'
import type { Report } from '../../core/formats/telemetry.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import { addReport, emptyAggregate, mergeInto, type Aggregate } from '../../core/telemetry/aggregate.ts'
import { cappedSum, keptShare, reportWeight, weightCap, weightCapOf } from '../../core/telemetry/device-caps.ts'
import { addFigures, excessOf, figuresOf, noFigures, subtractFigures } from '../../core/telemetry/figures.ts'
import { deviceKey } from '../../core/telemetry/device-set.ts'
import { summarize } from '../../core/telemetry/summarize.ts'
import type { Profile } from '../../core/formats/profile.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { makeReport, PROFILE } from '../helpers/telemetry.ts'

const T0 = Date.UTC(2026, 10, 26, 10, 0)

function sketchOf(values: number[]): DDSketch {
  const s = new DDSketch()
  for (const v of values) s.add(v)
  return s
}

describe('device weight caps', () => {
  it('caps at 4 × the median device, which the heavy device itself cannot move', () => {
    const honest = Array.from({ length: 10 }, (_, i) => 20 + i)
    expect(weightCapOf(honest)).toBe(4 * 24)
    expect(weightCapOf([...honest, 1e12])).toBe(4 * 25)
    expect(weightCapOf([0, 0, 0])).toBe(Infinity)
    const sketch = new DDSketch()
    for (const w of [...honest, 1e12]) sketch.add(w)
    expect(weightCap(sketch) / (4 * 25)).toBeGreaterThan(0.99)
    expect(weightCap(sketch) / (4 * 25)).toBeLessThan(1.01)
    expect(keptShare(50, 100)).toBe(1)
    expect(keptShare(1e6, 100)).toBe(1e-4)
  })

  it('keeps one device among n to at most 4/(n + 4) of a capped sum', () => {
    for (const n of [4, 10, 100]) {
      const devices = [
        ...Array.from({ length: n }, () => ({ weight: 10, values: [10, 9] })),
        { weight: 1e9, values: [1e9, 0] },
      ]
      const [labeled, correct] = cappedSum(devices, weightCapOf(devices.map((d) => d.weight)))
      expect(labeled).toBeCloseTo(10 * n + 40, 6)
      expect(correct / labeled).toBeCloseTo((9 * n) / (10 * n + 40), 9)
    }
  })

  it('weighs a report by every event it counts', () => {
    expect(
      reportWeight({
        counts: { inferences: 20, errors: 1, loads: 1, cacheHits: 1 },
        feedback: { labeled: 5, correct: 4 },
      }),
    ).toBe(27)
    expect(reportWeight({ counts: { inferences: 3, errors: 0, loads: 0, cacheHits: 0 } })).toBe(3)
  })
})

describe('DDSketch excess and subtract', () => {
  const rand = seededRandom(5)
  const honest = Array.from({ length: 400 }, () => 2 + rand() * 6)
  const heavy = Array.from({ length: 10_000 }, () => 50_000 + rand() * 20_000)

  it('takes a device down to a share of itself, bin by bin, leaving a valid sketch/1', () => {
    const device = sketchOf(heavy)
    const all = sketchOf([...honest, ...heavy])
    const keep = 0.01
    const excess = device.excess(keep)
    expect(SketchJson.safeParse(excess.toJSON()).success).toBe(true)
    expect(excess.count).toBe(device.count - Math.round(device.count * keep))
    all.subtract(excess)
    expect(SketchJson.safeParse(all.toJSON()).success).toBe(true)
    expect(all.count).toBe(honest.length + 100)
    // The rest is the honest values and 1% of the heavy ones (all above them): the median is the honest
    // value of rank ⌊0.5 · 499⌋, within α.
    const sorted = [...honest].sort((a, b) => a - b)
    const median = sorted[Math.floor(0.5 * 499)]!
    expect(Math.abs(all.quantile(0.5) - median)).toBeLessThanOrEqual(0.01 * median * (1 + 1e-9))
    expect(all.min).toBe(Math.min(...honest))
    expect(all.max).toBeGreaterThan(50_000 * 0.99)
  })

  it('keeps exact extremes while their bins keep values, and bin representatives after', () => {
    const s = sketchOf([1, 2, 3, 1000])
    s.subtract(sketchOf([1000]))
    expect(s.toJSON()).toMatchObject({ n: 3, min: 1 })
    expect(s.max! / 3).toBeGreaterThan(0.99)
    expect(s.max! / 3).toBeLessThan(1.01)
    expect(SketchJson.safeParse(s.toJSON()).success).toBe(true)
    s.subtract(sketchOf([1, 2, 3]))
    expect(s.isEmpty).toBe(true)
    expect(new DDSketch().excess(0.5).isEmpty).toBe(true)
  })
})

describe('capped figures', () => {
  const reports = (seed: number, n: number) => {
    const rand = seededRandom(seed)
    return Array.from({ length: n }, () => makeReport(rand, { model: 'm', start: T0 }))
  }
  const fold = (rs: { r: Report; d: number }[]): Aggregate => {
    const agg = emptyAggregate()
    for (const { r, d } of rs) addReport(agg, r, d)
    return agg
  }

  it('with nothing capped are the aggregate itself; a capped device counts its kept share in rates and quantiles', () => {
    const honest = reports(1, 10).map((r, i) => ({ r, d: deviceKey(`dev_honest_${i}`) }))
    const latency = new DDSketch().add(60_000, 1_000_000).toJSON()
    const attacker: Report = {
      ...reports(2, 1)[0]!,
      counts: { inferences: 1_000_000, errors: 0, cacheHits: 0, loads: 0 },
      latency,
      feedback: { labeled: 1_000_000, correct: 0 },
    }
    const device = fold([{ r: attacker, d: deviceKey('dev_attacker') }])
    const total = mergeInto(fold(honest), device)
    const plain = summarize(total, PROFILE as unknown as Profile)
    expect(plain.suppressed).toBe(false)
    const weights = honest.map(({ r }) => reportWeight(r))
    const cap = weightCapOf([...weights, reportWeight(attacker)])
    const keep = keptShare(reportWeight(attacker), cap)
    const figures = subtractFigures(figuresOf(total), addFigures(noFigures(), excessOf(device, keep, keep)))
    const capped = summarize(total, PROFILE as unknown as Profile, { capped: { figures, devices: 1, cap } })
    if (plain.suppressed || capped.suppressed) throw new Error('suppressed')
    const honestOnly = summarize(fold(honest), PROFILE as unknown as Profile)
    if (honestOnly.suppressed) throw new Error('suppressed')
    // Uncapped, the device decides; capped, it weighs what 4 median devices weigh at most.
    expect(plain.feedback!.accuracy).toBeLessThan(1e-3)
    expect(plain.latencyMs!.p50).toBeGreaterThan(50_000)
    const labeledHonest = honestOnly.feedback!.labeled
    const bound = honestOnly.feedback!.correct / (labeledHonest + cap)
    expect(capped.feedback!.accuracy!).toBeGreaterThanOrEqual(bound)
    expect(capped.latencyMs!.p50).toBeLessThan(10)
    expect(capped).toMatchObject({ cappedDevices: 1, deviceCap: cap, inferences: total.counts.inferences })
  })
})
