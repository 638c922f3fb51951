// Data quality end to end: five real Chromium profiles (five devices) run the built SDK on a small
// real ONNX model against a real `wrangler dev`, predicting seeded records in which every value was
// drawn as good or as one chosen problem (missing, non-finite, wrong type, out of range, unknown
// category). The fleet view's `quality` must equal, count for count, the problems the test planted,
// and the CLI must name the worst feature.
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FleetView } from '../../core/formats/fleet.ts'
import type { FeatureQuality } from '../../core/formats/quality.ts'
import { KIOSK_PROFILE, KIOSK_SIGNATURE } from '../helpers/kiosk-model.ts'
import { SdkDevices } from '../helpers/sdk-devices.ts'
import { cli, createAppKey, publishLinearModel } from '../helpers/edge-seed.ts'
import { telemetryQueueState } from '../helpers/sdk-page.ts'
import { serveStatic, type StaticServer } from '../helpers/static-server.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const DEVICES = 5
const MIN_DEVICES = 2

// wind declares its bounds [0, 12]: values in (11, 12] are good although the reference's widened
// range, [−1, 11], would call them out of range.
const SIGNATURE = {
  ...KIOSK_SIGNATURE,
  features: KIOSK_SIGNATURE.features.map((f) => (f.name === 'wind' ? { ...f, bounds: { min: 0, max: 12 } } : f)),
}
// KIOSK_PROFILE observed temp_max in [−3, 33]: widened by 10% of its width, [−6.6, 36.6] is in range.
const FEATURES = ['sky', 'temp_max', 'wind'] as const
type Feature = (typeof FEATURES)[number]
type Kind = 'good' | 'missing' | 'nonFinite' | 'wrongType' | 'outOfRange' | 'unknownCategory'

/** A value written for the page: JSON-safe, with `{$: …}` for what JSON cannot hold, `absent` for no key. */
type Planted = unknown

/** One value of a feature drawn as `kind`, by construction good or of exactly that problem. */
function plant(feature: Feature, kind: Kind, rand: () => number): Planted {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
  const numeric = feature !== 'sky'
  switch (kind) {
    case 'missing':
      return pick([null, { $: 'undefined' }, { $: 'absent' }])
    case 'nonFinite':
      return pick([{ $: 'NaN' }, { $: 'Infinity' }, { $: '-Infinity' }])
    case 'wrongType':
      return numeric ? pick(['12', true, '']) : pick([3, false, 0.5])
    case 'outOfRange':
      if (feature === 'temp_max') return rand() < 0.5 ? 37 + rand() * 60 : -7 - rand() * 60
      return rand() < 0.5 ? 12.5 + rand() * 20 : -0.5 - rand() * 5
    case 'unknownCategory':
      return pick(['snow', 'hail', 'Clear', '__other__'])
    default:
      if (feature === 'temp_max') return -3 + rand() * 36
      if (feature === 'wind') return rand() < 0.3 ? 11 + rand() : rand() * 11
      return pick(['clear', 'cloudy', 'rain'])
  }
}

/** Seeded records and the problems planted in them, per feature. */
function plantedRecords(seed: number, n: number): { records: Record<string, Planted>[]; kinds: Kind[][] } {
  const rand = seededRandom(seed)
  const records: Record<string, Planted>[] = []
  const kinds: Kind[][] = []
  for (let i = 0; i < n; i++) {
    const record: Record<string, Planted> = {}
    const row: Kind[] = []
    for (const f of FEATURES) {
      const problems: Kind[] =
        f === 'sky' ? ['missing', 'wrongType', 'unknownCategory'] : ['missing', 'nonFinite', 'wrongType', 'outOfRange']
      const kind: Kind = rand() < 0.55 ? 'good' : problems[Math.floor(rand() * problems.length)]!
      record[f] = plant(f, kind, rand)
      row.push(kind)
    }
    // A field the model does not know is neither counted nor sent.
    if (rand() < 0.2) record.note = 'free text'
    records.push(record)
    kinds.push(row)
  }
  return { records, kinds }
}

/** The counts the planted problems must add up to. */
function expectedCounts(kinds: Kind[][]): Record<Feature, FeatureQuality> {
  const out = {} as Record<Feature, FeatureQuality>
  for (const f of FEATURES)
    out[f] = { rows: 0, missing: 0, nonFinite: 0, wrongType: 0, outOfRange: 0, unknownCategory: 0 }
  for (const row of kinds)
    FEATURES.forEach((f, j) => {
      out[f].rows++
      const kind = row[j]!
      if (kind !== 'good') out[f][kind]++
    })
  return out
}

describe('data quality from five real browsers', () => {
  let dev: WranglerDev
  let site: StaticServer
  let appKey: string
  const devices = new SdkDevices('quality')
  const { pages } = devices

  beforeAll(async () => {
    const modelDir = devices.tempDir('model')
    const seed = async () => {
      dev = await startWranglerDev({ vars: { TELEMETRY_MIN_DEVICES: String(MIN_DEVICES) } })
      await publishLinearModel(dev, modelDir, { model: 'kiosk', seed: 5, signature: SIGNATURE, profile: KIOSK_PROFILE })
      appKey = await createAppKey(dev)
    }
    site = await serveStatic(`${root}test/e2e/pages/plain`, { mounts: { '/sdk/': `${root}dist/sdk` } })
    await Promise.all([seed(), devices.open(DEVICES, site.url)])
  }, 300_000)

  afterAll(async () => {
    await site?.close()
    await dev?.stop({ removeState: true })
    await devices.close()
  })

  it('reads back in the fleet view exactly the missing, non-finite, wrong-type, out-of-range and unknown values the devices saw', async () => {
    const planted = Array.from({ length: DEVICES }, (_, i) => plantedRecords(1200 + i, 30 + 11 * i))
    const runs = await Promise.all(
      pages.map((page, i) =>
        page.evaluate(
          async ({ endpoint, appKey, records }) => {
            const decode = (record: Record<string, unknown>) => {
              const out: Record<string, unknown> = {}
              for (const [k, v] of Object.entries(record)) {
                const special = v !== null && typeof v === 'object' ? (v as { $: string }).$ : null
                if (special === 'absent') continue
                out[k] =
                  special === null
                    ? v
                    : ({ NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity } as Record<string, unknown>)[
                        special
                      ]
              }
              return out
            }
            const fleet = (globalThis as any).edgefleet.createFleet({ endpoint, appKey })
            const model = await fleet.load('kiosk')
            const rows = records.map(decode)
            let inferences = 0
            // Half one by one, half as one batch; refused inputs (not records) are errors, never rows.
            const half = Math.floor(rows.length / 2)
            for (const row of rows.slice(0, half)) if ((await model.predict(row)).version === 1) inferences++
            inferences += (await model.predictBatch(rows.slice(half))).length
            let errors = 0
            for (const bad of [null, [1, 2, 3]]) await model.predict(bad).catch(() => errors++)
            await fleet.flush()
            return { inferences, errors }
          },
          { endpoint: dev.url, appKey, records: planted[i]!.records },
        ),
      ),
    )
    runs.forEach((r, i) => expect(r).toEqual({ inferences: planted[i]!.records.length, errors: 2 }))
    for (const page of pages)
      await expect
        .poll(async () => (await telemetryQueueState(page)).batches, { timeout: 60_000, interval: 250 })
        .toBe(0)

    const expected = expectedCounts(planted.flatMap((p) => p.kinds))
    // Every kind of problem was planted, on every feature that can have it.
    for (const f of FEATURES)
      for (const k of f === 'sky'
        ? (['missing', 'wrongType', 'unknownCategory'] as const)
        : (['missing', 'nonFinite', 'wrongType', 'outOfRange'] as const))
        expect(expected[f][k], `${f} ${k}`).toBeGreaterThan(0)

    const res = await fetch(`${dev.url}/v1/models/kiosk/telemetry`, {
      headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
    })
    expect(res.status).toBe(200)
    const view = FleetView.parse(await res.json())
    expect(view.cohorts).toHaveLength(1)
    const total = view.cohorts[0]!.total
    if (total.suppressed) throw new Error('the cohort is suppressed')
    expect(total.devices).toBe(DEVICES)
    const rows = runs.reduce((s, r) => s + r.inferences, 0)
    expect(total.inferences - total.errors).toBe(rows)

    const problems = (q: FeatureQuality) => q.missing + q.nonFinite + q.wrongType + q.outOfRange + q.unknownCategory
    const features = Object.fromEntries(
      FEATURES.map((f) => [f, { ...expected[f], rate: problems(expected[f]) / expected[f].rows }]),
    )
    expect(total.quality?.features).toEqual(features)
    const worst = [...FEATURES].sort((a, b) => features[b]!.rate - features[a]!.rate || (a < b ? -1 : 1))[0]!
    expect(total.quality?.worst).toEqual({ feature: worst, rate: features[worst]!.rate })

    // Slices: every browser here is Chromium, as each SDK found out for itself; any dimension adds up to the cohort.
    for (const dimension of ['browser', 'backend', 'memory', 'platform']) {
      const sliced = await fetch(`${dev.url}/v1/models/kiosk/telemetry?slice=${dimension}`, {
        headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
      })
      expect(sliced.status).toBe(200)
      const slices = Object.values(FleetView.parse(await sliced.json()).slices!.cohorts[0]!.slices)
      const sum = (k: 'inferences' | 'errors') => slices.reduce((n, x) => n + (x.suppressed ? NaN : x[k]), 0)
      expect([sum('inferences'), sum('errors')], dimension).toEqual([total.inferences, total.errors])
      if (dimension === 'browser') expect(slices).toEqual([expect.objectContaining({ devices: DEVICES })])
    }
    const browsers = await fetch(`${dev.url}/v1/models/kiosk/telemetry?slice=browser`, {
      headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
    })
    expect(Object.keys(FleetView.parse(await browsers.json()).slices!.cohorts[0]!.slices)).toEqual(['chromium'])

    const out = await cli(dev, ['telemetry', 'kiosk'])
    expect(out).toContain(`worst data quality: ${worst} ${(features[worst]!.rate * 100).toFixed(1)}% of rows`)
  })
})
