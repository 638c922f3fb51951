import { describe, expect, it } from 'vitest'
import { SliceGapGuardrail } from '../../core/formats/rollout.ts'
import type { SliceMetrics } from '../../core/formats/slices.ts'
import { DeviceCaps, type Report } from '../../core/formats/telemetry.ts'
import { jsonPointer } from '../../core/json-pointer.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import {
  addSliceReport,
  decodeSliceAggregate,
  emptySliceAggregate,
  encodeSliceAggregate,
  mergeSliceInto,
  summarizeSlice,
} from '../../core/telemetry/slice-aggregate.ts'
import { compareSlices, largestSliceGap } from '../../core/telemetry/slice-gap.ts'
import {
  browserFamily,
  deviceSlices,
  memoryBucket,
  parseDeviceSlices,
  sliceValueOf,
} from '../../core/telemetry/slices.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import file from '../vectors/slices.json'

const pointerOf = (error: { issues: { path: PropertyKey[] }[] }) => jsonPointer(error.issues[0].path)

describe('slice keys (golden vectors)', () => {
  it.each(file.browser as [string, { brand: string }[] | null, string, string][])(
    'browser family: %s',
    (_, brands, ua, expected) => {
      expect(browserFamily(brands ?? undefined, ua)).toBe(expected)
    },
  )

  it.each(file.memory as [number | null, string][])('deviceMemory %s GiB is bucket %s', (gib, bucket) => {
    expect(memoryBucket(gib ?? undefined)).toBe(bucket)
  })

  it('takes backend from the report and the rest from the device, unknown where the device said nothing', () => {
    const device = deviceSlices({ webgpu: true, deviceMemory: 4, platform: 'linux', browser: 'firefox' })
    expect(device).toEqual({ platform: 'linux', browser: 'firefox', memory: '4' })
    expect(deviceSlices({ webgpu: false })).toEqual({ platform: 'unknown', browser: 'unknown', memory: 'unknown' })
    const report = { backend: 'wasm' } as Report
    expect(sliceValueOf('backend', report, device)).toBe('wasm')
    expect(sliceValueOf('memory', report, device)).toBe('4')
    expect(sliceValueOf('cohort', report, device)).toBeNull()
  })

  it('reads stored slice values back, dropping anything that is not a short slug', () => {
    expect(parseDeviceSlices(JSON.stringify({ platform: 'linux', browser: 'Free Text!', memory: '>=8' }))).toEqual({
      platform: 'linux',
      memory: '>=8',
    })
    expect(parseDeviceSlices('not json')).toEqual({})
    expect(parseDeviceSlices(null)).toEqual({})
  })
})

describe('slice formats (golden vectors)', () => {
  it.each(file.formats.caps.valid as [string, unknown][])('caps accept %s', (_, value) => {
    expect(DeviceCaps.safeParse(value).success).toBe(true)
  })
  it.each(file.formats.caps.invalid as [string, unknown, string][])('caps refuse %s', (_, value, pointer) => {
    const r = DeviceCaps.safeParse(value)
    expect(r.success).toBe(false)
    expect(pointerOf(r.error!)).toBe(pointer)
  })
  it.each(file.formats.guardrail.valid as [string, unknown, unknown][])('slice_gap accepts %s', (_, value, parsed) => {
    expect(SliceGapGuardrail.parse(value)).toEqual(parsed)
  })
  it.each(file.formats.guardrail.invalid as [string, unknown, string][])(
    'slice_gap refuses %s',
    (_, value, pointer) => {
      const r = SliceGapGuardrail.safeParse(value)
      expect(r.success).toBe(false)
      expect(pointerOf(r.error!)).toBe(pointer)
    },
  )
})

describe('the largest gap between slices', () => {
  it.each(file.gap as [string, Record<string, SliceMetrics>, unknown][])('%s', (_, slices, expected) => {
    expect(largestSliceGap('platform', slices)).toEqual(expected)
    // The same whatever order the slices come in.
    const reversed = Object.fromEntries(Object.entries(slices).reverse())
    expect(largestSliceGap('platform', reversed)).toEqual(expected)
  })
})

describe('slice aggregates', () => {
  const report = (rand: () => number, inferences: number, errors: number): Report => {
    const latency = new DDSketch()
    for (let i = 0; i < inferences; i++) latency.add(1 + rand() * 20)
    return {
      counts: { inferences, errors, cacheHits: 0, loads: 0 },
      latency: latency.toJSON(),
      feedback: { labeled: 4, correct: 3 },
    } as unknown as Report
  }

  it('merges exactly in any order and survives its stored form (seeded)', () => {
    const rand = seededRandom(42)
    const parts = Array.from({ length: 8 }, (_, i) =>
      addSliceReport(emptySliceAggregate(), report(rand, 10 + i, i % 3), 1000 + (i % 5)),
    )
    const forward = parts.reduce(
      (a, p) => mergeSliceInto(a, decodeSliceAggregate(encodeSliceAggregate(p))),
      emptySliceAggregate(),
    )
    const backward = [...parts]
      .reverse()
      .reduce((a, p) => mergeSliceInto(a, decodeSliceAggregate(encodeSliceAggregate(p))), emptySliceAggregate())
    const strip = (a: ReturnType<typeof encodeSliceAggregate>) => ({ ...a, latency: { ...a.latency, sum: 0 } })
    expect(strip(encodeSliceAggregate(forward))).toEqual(strip(encodeSliceAggregate(backward)))
    expect(forward).toMatchObject({ reports: 8, inferences: 108, errors: 7, labeled: 32, correct: 24 })
    expect(forward.devices.size).toBe(5)
  })

  it('suppresses a slice under minDevices and summarizes it at or above', () => {
    const rand = seededRandom(7)
    const agg = emptySliceAggregate()
    for (let d = 0; d < 4; d++) addSliceReport(agg, report(rand, 10, 1), d)
    expect(summarizeSlice(agg, 5)).toEqual({ suppressed: true, reason: 'fewer_than_min_devices', minDevices: 5 })
    addSliceReport(agg, report(rand, 10, 1), 4)
    expect(summarizeSlice(agg, 5)).toMatchObject({
      suppressed: false,
      devices: 5,
      inferences: 50,
      errors: 5,
      errorRate: 0.1,
      feedback: { labeled: 20, correct: 15, accuracy: 0.75 },
    })
  })
})

describe('slice_gap: the candidate against the baseline, slice by slice', () => {
  const counts = (devices: number, inferences: number, errors: number, labeled = 0, correct = 0) => ({
    devices,
    inferences,
    errors,
    labeled,
    correct,
  })
  it('names the slice where the candidate errs most above the baseline, among slices with enough devices on both arms', () => {
    const candidate = { linux: counts(6, 100, 1), windows: counts(6, 100, 40), macos: counts(2, 100, 90) }
    const baseline = { linux: counts(6, 100, 1), windows: counts(6, 100, 2), macos: counts(6, 100, 1) }
    const [worst, ...rest] = compareSlices(candidate, baseline, 'error_rate', 5)
    expect(worst).toEqual({
      slice: 'windows',
      candidate: 0.4,
      baseline: 0.02,
      excess: 0.4 - 0.02,
      devices: { candidate: 6, baseline: 6 },
    })
    expect(rest.map((r) => r.slice)).toEqual(['linux']) // macos: 2 candidate devices
  })
  it('compares accuracy as baseline − candidate and skips slices without labels', () => {
    const candidate = { a: counts(5, 10, 0, 10, 5), b: counts(5, 10, 0, 0, 0) }
    const baseline = { a: counts(5, 10, 0, 10, 9), b: counts(5, 10, 0, 10, 9) }
    expect(compareSlices(candidate, baseline, 'accuracy', 5)).toEqual([
      { slice: 'a', candidate: 0.5, baseline: 0.9, excess: 0.9 - 0.5, devices: { candidate: 5, baseline: 5 } },
    ])
  })
})
