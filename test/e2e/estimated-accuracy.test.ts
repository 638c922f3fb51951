// Label-free accuracy estimation end to end, on real data: the committed seattle-weather classifier
// (trained on 2012) and a worse copy of it (its weights perturbed with seeded noise) are each
// published with a calibration map that `edgefleet profile --label` fits on 2012's labelled days.
// Five real Chromium profiles (five devices) run the built SDK on the 1,095 days of 2013–2015, each
// device a fifth of them, against a real `wrangler dev`. No label leaves the page; the fleet view's
// estimatedAccuracy must land within the stated tolerance of the accuracy the labels give in the
// same run, and the worse model's estimate must drop with its true accuracy.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import onnxProto from 'onnx-proto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FleetView } from '../../core/formats/fleet.ts'
import { Profile } from '../../core/formats/profile.ts'
import { linearSoftmaxOnnx } from '../../trainer/onnx-linear.ts'
import { SdkDevices } from '../helpers/sdk-devices.ts'
import { cli, createAppKey } from '../helpers/edge-seed.ts'
import { telemetryQueueState } from '../helpers/sdk-page.ts'
import { serveStatic, type StaticServer } from '../helpers/static-server.ts'
import { seededNormal, seededRandom } from '../../scripts/lib/random.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const demo = join(root, 'demo', 'models', 'weather')
const DEVICES = 5
const MIN_DEVICES = 2
/**
 * |estimate − true accuracy| allowed for the published model. The estimate assumes calibration
 * carries over from 2012; it does not fully: later years label more days fog and sun (fog: 5 days in
 * 2012, 52 in 2015), a change in P(label | inputs) no label-free estimate can see.
 */
const TOLERANCE = 0.05
/** The worse model suffers more from that label shift; its estimate must still drop by at least this. */
const MIN_DROP = 0.1

interface Day {
  date: string
  precipitation: number
  temp_max: number
  temp_min: number
  wind: number
  weather: string
}

function seattle(): Day[] {
  const [header, ...lines] = readFileSync(join(root, 'node_modules/vega-datasets/data/seattle-weather.csv'), 'utf8')
    .trim()
    .split('\n')
  const cols = header!.split(',')
  return lines.map((line) => {
    const cells = line.split(',')
    const cell = (name: string) => cells[cols.indexOf(name)]!
    return {
      date: cell('date'),
      precipitation: Number(cell('precipitation')),
      temp_max: Number(cell('temp_max')),
      temp_min: Number(cell('temp_min')),
      wind: Number(cell('wind')),
      weather: cell('weather'),
    }
  })
}

/** The demo model with every weight moved by seeded N(0, 2²) noise: same graph, worse predictions. */
function perturbedModel(): Uint8Array {
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(join(demo, 'model.onnx')))
  const [w, b] = model.graph!.initializer!
  const normal = seededNormal(seededRandom(7))
  return linearSoftmaxOnnx({
    input: 'features',
    output: 'weather',
    weights: Float32Array.from(w!.floatData!, (x) => x + 2 * normal()),
    bias: Float32Array.from(b!.floatData!),
    width: 4,
    producer: 'edgefleet-test',
  })
}

describe('estimated accuracy on seattle-weather, from five real browsers', () => {
  let dev: WranglerDev
  let site: StaticServer
  let appKey: string
  const devices = new SdkDevices('estimate')
  const { pages } = devices
  const days = seattle()
  const reference = days.filter((d) => d.date.startsWith('2012-'))
  const current = days.filter((d) => !d.date.startsWith('2012-'))

  /** Publishes `onnx` as `name`'s production version with the demo profile and a map fitted on 2012 by the CLI. */
  async function publish(name: string, onnx: Uint8Array, dir: string): Promise<Profile> {
    const model = join(dir, `${name}.onnx`)
    writeFileSync(model, onnx)
    const csv = join(dir, '2012.csv')
    const header = 'date,precipitation,temp_max,temp_min,wind,weather'
    writeFileSync(
      csv,
      [
        header,
        ...reference.map((d) =>
          header
            .split(',')
            .map((k) => d[k as keyof Day])
            .join(','),
        ),
      ].join('\n') + '\n',
    )
    const calibrated = join(dir, `${name}-calibrated.json`)
    await cli(dev, [
      'profile',
      csv,
      '--ignore',
      'date',
      '--label',
      'weather',
      '--model',
      model,
      '--signature',
      join(demo, 'signature.json'),
      '-o',
      calibrated,
    ])
    const { calibration } = Profile.parse(JSON.parse(readFileSync(calibrated, 'utf8')))
    const profile = Profile.parse({ ...JSON.parse(readFileSync(join(demo, 'profile.json'), 'utf8')), calibration })
    writeFileSync(join(dir, `${name}-profile.json`), JSON.stringify(profile))
    await cli(dev, [
      'publish',
      name,
      model,
      '--signature',
      join(demo, 'signature.json'),
      '--profile',
      join(dir, `${name}-profile.json`),
      '--alias',
      'production',
    ])
    return profile
  }

  let profiles: Record<string, Profile>

  beforeAll(async () => {
    const modelDir = devices.tempDir('model')
    const seed = async () => {
      dev = await startWranglerDev({ vars: { TELEMETRY_MIN_DEVICES: String(MIN_DEVICES) } })
      await cli(dev, ['runtime', 'push'])
      profiles = {
        weather: await publish('weather', new Uint8Array(readFileSync(join(demo, 'model.onnx'))), modelDir),
        'weather-worse': await publish('weather-worse', perturbedModel(), modelDir),
      }
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

  it("lands within the tolerance of the labels' accuracy, and drops for the worse model", async () => {
    const shares = Array.from({ length: DEVICES }, (_, i) => current.filter((_, j) => j % DEVICES === i))
    // Each device predicts its days with both models; only the predicted classes come back to the test.
    const predicted = await Promise.all(
      pages.map((page, i) =>
        page.evaluate(
          async ({ endpoint, appKey, records }) => {
            const fleet = (globalThis as any).edgefleet.createFleet({ endpoint, appKey })
            const out: Record<string, string[]> = {}
            for (const name of ['weather', 'weather-worse']) {
              const model = await fleet.load(name)
              const predictions = await model.predictBatch(records)
              out[name] = predictions.map((p: any) => p.output.label)
            }
            await fleet.flush()
            return out
          },
          {
            endpoint: dev.url,
            appKey,
            records: shares[i]!.map(({ precipitation, temp_max, temp_min, wind }) => ({
              precipitation,
              temp_max,
              temp_min,
              wind,
            })),
          },
        ),
      ),
    )
    for (const page of pages)
      await expect
        .poll(async () => (await telemetryQueueState(page)).batches, { timeout: 60_000, interval: 250 })
        .toBe(0)

    const figures: Record<string, { accuracy: number; estimate: number; low: number; high: number }> = {}
    for (const name of ['weather', 'weather-worse']) {
      let correct = 0
      predicted.forEach((p, i) => p[name]!.forEach((label, j) => (correct += label === shares[i]![j]!.weather ? 1 : 0)))
      const accuracy = correct / current.length
      const res = await fetch(`${dev.url}/v1/models/${name}/telemetry`, {
        headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
      })
      expect(res.status).toBe(200)
      const view = FleetView.parse(await res.json())
      expect(view.cohorts).toHaveLength(1)
      const total = view.cohorts[0]!.total
      if (total.suppressed) throw new Error(`${name}: the cohort is suppressed`)
      expect(total.devices).toBe(DEVICES)
      expect(total.feedback).toBeNull() // not one label was sent
      const e = total.estimatedAccuracy!
      expect(e.n).toBe(current.length)
      figures[name] = { accuracy, estimate: e.value, low: e.low, high: e.high }
    }
    const good = figures.weather!
    const worse = figures['weather-worse']!
    console.log(`estimated accuracy on 2013–2015 (n=${current.length}):`, JSON.stringify(figures))
    expect(Math.abs(good.estimate - good.accuracy)).toBeLessThanOrEqual(TOLERANCE)
    expect(good.accuracy).toBeGreaterThanOrEqual(good.low)
    expect(good.accuracy).toBeLessThanOrEqual(good.high)
    expect(good.estimate - worse.estimate).toBeGreaterThanOrEqual(MIN_DROP)
    expect(good.accuracy - worse.accuracy).toBeGreaterThanOrEqual(MIN_DROP)
    expect(profiles.weather!.calibration!.counts.reduce((a, b) => a + b, 0)).toBe(reference.length)

    const out = await cli(dev, ['telemetry', 'weather'])
    expect(out).toContain(`est. accuracy  ${(good.estimate * 100).toFixed(1)}%`)
  })
})
