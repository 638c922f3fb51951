import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { beforeEach, describe, expect, it } from 'vitest'
import { FleetView } from '../../core/formats/fleet.ts'
import type { DeviceCaps, Report } from '../../core/formats/telemetry.ts'
import { deviceKey } from '../../core/telemetry/device-set.ts'
import {
  addSliceReport,
  emptySliceAggregate,
  summarizeSlice,
  type SliceAggregate,
} from '../../core/telemetry/slice-aggregate.ts'
import { shardStub } from '../../edge/telemetry/ingest.ts'
import type { TelemetryShard } from '../../edge/telemetry/shard.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, resetState } from './api.ts'
import { appKey, makeBatch, makeReport, minuteAgo, postBatch, setupModel } from './telemetry-fixtures.ts'

const SHARDS = 4
const HOUR = 3_600_000
let key: string
let model: string

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = await setupModel('slices')
})

type Sent = { report: Report; device: string; caps: DeviceCaps }

/** Devices per platform (macos stays under TELEMETRY_MIN_DEVICES = 5), two minutes each. */
const FLEET: { platform: string; browser: DeviceCaps['browser']; deviceMemory: number; devices: number }[] = [
  { platform: 'linux', browser: 'firefox', deviceMemory: 8, devices: 6 },
  { platform: 'windows', browser: 'chromium', deviceMemory: 4, devices: 7 },
  { platform: 'macos', browser: 'safari', deviceMemory: 2, devices: 3 },
]

async function sendFleet(seed: number): Promise<Sent[]> {
  const rand = seededRandom(seed)
  const sent: Sent[] = []
  for (const f of FLEET) {
    for (let d = 0; d < f.devices; d++) {
      const device = `dev_${f.platform}_${d.toString().padStart(4, '0')}`
      const caps: DeviceCaps = { webgpu: false, platform: f.platform, browser: f.browser, deviceMemory: f.deviceMemory }
      for (const start of [minuteAgo(12), minuteAgo(11)]) {
        const report = makeReport(rand, { model, start })
        const batch = { ...makeBatch(device, [report]), device: { id: device, caps, sdk: '0.1.0' } }
        const res = await postBatch(batch, key)
        expect(res.status, await res.clone().text()).toBe(202)
        sent.push({ report, device, caps })
      }
    }
  }
  return sent
}

/** What every slice of one dimension must read: one pass over the reports sent. */
function expectedSlices(sent: Sent[], valueOf: (s: Sent) => string): Record<string, unknown> {
  const aggs = new Map<string, SliceAggregate>()
  for (const s of sent) {
    const v = valueOf(s)
    if (!aggs.has(v)) aggs.set(v, emptySliceAggregate())
    addSliceReport(aggs.get(v)!, s.report, deviceKey(s.device))
  }
  return Object.fromEntries([...aggs].sort(([a], [b]) => (a < b ? -1 : 1)).map(([v, a]) => [v, summarizeSlice(a, 5)]))
}

async function read(slice: string): Promise<FleetView> {
  const res = await api('GET', `/v1/models/${model}/telemetry?granularity=hour&slice=${slice}`)
  expect(res.status, await res.clone().text()).toBe(200)
  return FleetView.parse(await bodyOf(res))
}

/** Latency quantiles are float sums of merged sketches: compare them closely, the rest exactly. */
function expectSlices(actual: Record<string, unknown>, expected: Record<string, unknown>): void {
  expect(Object.keys(actual)).toEqual(Object.keys(expected))
  for (const [v, e] of Object.entries(expected) as [string, any][]) {
    const a = actual[v] as any
    expect({ ...a, latencyMs: null }, v).toEqual({ ...e, latencyMs: null })
    if (e.latencyMs) for (const q of ['p50', 'p95', 'p99']) expect(a.latencyMs[q]).toBeCloseTo(e.latencyMs[q], 9)
  }
}

async function runAlarms(at: number): Promise<void> {
  for (let i = 0; i < SHARDS; i++) {
    const stub = shardStub(env, model, i)
    await runInDurableObject(stub, (shard: TelemetryShard) => {
      shard.now = () => at
    })
    await runDurableObjectAlarm(stub)
    await runInDurableObject(stub, (shard: TelemetryShard) => {
      shard.now = () => Date.now()
    })
  }
}

describe('GET /v1/models/:model/telemetry?slice=', { timeout: 60_000 }, () => {
  it('groups a cohort by platform, browser, memory and backend exactly before and after compaction and rollup, suppressing slices under k devices', async () => {
    const sent = await sendFleet(3)
    const dims: [string, (s: Sent) => string][] = [
      ['platform', (s) => s.caps.platform!],
      ['browser', (s) => s.caps.browser!],
      ['memory', (s) => ({ 8: '>=8', 4: '4', 2: '<=2' })[s.caps.deviceMemory as 8 | 4 | 2]],
      ['backend', (s) => s.report.backend],
    ]
    const check = async () => {
      for (const [dimension, valueOf] of dims) {
        const view = await read(dimension)
        expect(view.slices?.dimension).toBe(dimension)
        expect(view.slices?.cohorts).toHaveLength(1)
        const cohort = view.slices!.cohorts[0]
        expect(cohort).toMatchObject({ version: 1, role: 'primary', rollout: null })
        expectSlices(cohort.slices, expectedSlices(sent, valueOf))
      }
    }
    await check() // raw rows only
    const platform = (await read('platform')).slices!.cohorts[0].slices
    expect(platform.macos).toEqual({ suppressed: true, reason: 'fewer_than_min_devices', minDevices: 5 })
    expect(platform.linux).toMatchObject({ suppressed: false, devices: 6, reports: 12 })
    expect(platform.windows).toMatchObject({ suppressed: false, devices: 7, reports: 14 })
    // The slices of a dimension add up to the cohort.
    const total = (await read('backend')).cohorts[0].total as any
    const bySlice = Object.values((await read('backend')).slices!.cohorts[0].slices) as any[]
    expect(bySlice.reduce((n, s) => n + s.inferences, 0)).toBe(total.inferences)

    await runAlarms(Date.now() + 60_000) // compaction
    const compacted = await Promise.all(Array.from({ length: SHARDS }, (_, i) => shardStub(env, model, i).inspect()))
    expect(compacted.reduce((n, s) => n + s.raw, 0)).toBe(0)
    await check()
    await runAlarms(Date.now() + 26 * HOUR) // past TELEMETRY_ROLLUP_AFTER_HOURS = 24
    const rolled = await Promise.all(Array.from({ length: SHARDS }, (_, i) => shardStub(env, model, i).inspect()))
    expect(rolled.reduce((n, s) => n + s.minuteCells, 0)).toBe(0)
    await check()
    const stored = () =>
      Promise.all(
        Array.from({ length: SHARDS }, (_, i) =>
          shardStub(env, model, i).slices({
            from: 0,
            to: Date.now() + 40 * 24 * HOUR,
            bucketMs: null,
            dimension: 'platform',
          }),
        ),
      )
    expect((await stored()).flatMap((s) => s.cohorts).length).toBeGreaterThan(0)
    await runAlarms(Date.now() + 31 * 24 * HOUR) // past TELEMETRY_RETENTION_DAYS = 30
    expect((await stored()).flatMap((s) => s.cohorts)).toEqual([])
  })

  it('counts each report once per slice when compaction fails before its commit and runs again', async () => {
    // Every compaction crashes from the first write on: the shard's own alarm (1 s after a write) may
    // fire while the fleet is still sending, and must not commit either.
    for (let i = 0; i < SHARDS; i++)
      await runInDurableObject(shardStub(env, model, i), (shard: TelemetryShard) => {
        shard.beforeCompactionCommit = () => {
          throw new Error('simulated crash inside the compaction transaction')
        }
      })
    const sent = await sendFleet(6)
    const expected = expectedSlices(sent, (s) => s.caps.platform!)
    await runAlarms(Date.now() + 60_000) // every compaction rolls back: raw rows stay, no slice cell is written
    const pending = await Promise.all(Array.from({ length: SHARDS }, (_, i) => shardStub(env, model, i).inspect()))
    expect(pending.reduce((n, s) => n + s.raw, 0)).toBe(sent.length)
    expectSlices((await read('platform')).slices!.cohorts[0].slices, expected)
    for (let i = 0; i < SHARDS; i++)
      await runInDurableObject(shardStub(env, model, i), (shard: TelemetryShard) => {
        shard.beforeCompactionCommit = undefined
      })
    await runAlarms(Date.now() + 3 * 60_000) // the retry commits
    const done = await Promise.all(Array.from({ length: SHARDS }, (_, i) => shardStub(env, model, i).inspect()))
    expect(done.reduce((n, s) => n + s.raw, 0)).toBe(0)
    expectSlices((await read('platform')).slices!.cohorts[0].slices, expected)
  })

  it('names the largest gap between unsuppressed slices, never a suppressed one', async () => {
    const sent = await sendFleet(4)
    const view = await read('platform')
    const slices = expectedSlices(sent, (s) => s.caps.platform!) as Record<string, any>
    const gap = view.sliceGap!
    expect(gap).toMatchObject({ dimension: 'platform', version: 1, role: 'primary', rollout: null })
    expect(['linux', 'windows']).toContain(gap.worst.slice)
    expect(['linux', 'windows']).toContain(gap.best.slice)
    const field = gap.metric === 'error_rate' ? 'errorRate' : 'accuracy'
    const valueOf = (s: any) => (field === 'errorRate' ? s.errorRate : s.feedback.accuracy)
    expect(gap.gap).toBeCloseTo(Math.abs(valueOf(slices.linux) - valueOf(slices.windows)), 12)
    expect(view.slices!.cohorts[0].gap).toEqual({
      dimension: gap.dimension,
      metric: gap.metric,
      worst: gap.worst,
      best: gap.best,
      gap: gap.gap,
    })
    // Without ?slice= the view is as before.
    const plain = await bodyOf(await api('GET', `/v1/models/${model}/telemetry?granularity=hour`))
    expect(plain.slices).toBeUndefined()
    expect(plain.sliceGap).toBeUndefined()
  })

  it('refuses an unknown slice dimension with validation_failed naming the parameter', async () => {
    for (const bad of ['country', 'PLATFORM', '']) {
      const res = await api('GET', `/v1/models/${model}/telemetry?slice=${bad}`)
      expect(res.status, bad).toBe(400)
      const { error } = await bodyOf(res)
      expect(error.code).toBe('validation_failed')
      expect(error.message).toMatch(/^query slice: /)
    }
    const cohort = await read('cohort')
    expect(cohort.slices).toEqual({ dimension: 'cohort', cohorts: [] })
    expect(cohort.sliceGap).toBeNull()
  })

  it('refuses a batch whose browser is not a family, storing nothing', async () => {
    const rand = seededRandom(5)
    const batch = makeBatch('dev_bad_browser', [makeReport(rand, { model, start: minuteAgo(3) })])
    const res = await postBatch(
      { ...batch, device: { ...batch.device, caps: { webgpu: false, browser: 'Chrome 131' } } },
      key,
    )
    expect(res.status).toBe(400)
    expect((await bodyOf(res)).error).toMatchObject({ code: 'validation_failed', pointer: '/device/caps/browser' })
    expect((await read('browser')).slices!.cohorts).toEqual([])
  })

  it("groups by the app's cohort label, counting only labels of the model's allow-list", async () => {
    const put = await api('PUT', `/v1/models/${model}/cohorts`, {
      body: { name: 'store', values: ['store-0001', 'Store.0002:eu'] },
    })
    expect(put.status, await put.clone().text()).toBe(200)
    const rand = seededRandom(31)
    const sent: (Sent & { cohort?: string })[] = []
    // Six and five devices in the two listed stores, three in a store the model does not list, two with none.
    const fleet: [string | undefined, number][] = [
      ['store-0001', 6],
      ['Store.0002:eu', 5],
      ['store-9999', 3],
      [undefined, 2],
    ]
    for (const [cohort, devices] of fleet)
      for (let d = 0; d < devices; d++) {
        const device = `dev_cohort_${cohort ?? 'none'}_${d}`.replace(/[^A-Za-z0-9_-]/g, '_')
        const caps: DeviceCaps = { webgpu: false, platform: 'linux' }
        const report = makeReport(rand, { model, start: minuteAgo(6) })
        const batch = {
          ...makeBatch(device, [report]),
          device: { id: device, caps, sdk: '0.1.0', ...(cohort ? { cohort } : {}) },
        }
        const res = await postBatch(batch, key)
        expect(res.status, await res.clone().text()).toBe(202)
        sent.push({ report, device, caps, cohort })
      }
    const listed = sent.filter((s) => s.cohort === 'store-0001' || s.cohort === 'Store.0002:eu')
    const cohortOf = new Map(listed.map((s) => [s.device, s.cohort!]))
    const view = await read('cohort')
    expect(view.slices!.cohorts).toHaveLength(1)
    expectSlices(
      view.slices!.cohorts[0]!.slices,
      expectedSlices(listed, (s) => cohortOf.get(s.device)!),
    )
    // A label that is not one is refused like any malformed field, storing nothing.
    const bad = makeBatch('dev_cohort_bad_0', [makeReport(rand, { model, start: minuteAgo(6) })])
    const res = await postBatch({ ...bad, device: { ...bad.device, cohort: 'a store with spaces' } }, key)
    expect(res.status).toBe(400)
    expect((await bodyOf(res)).error).toMatchObject({ code: 'validation_failed', pointer: '/device/cohort' })
  })
})
