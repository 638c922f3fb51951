// SLO alerts end to end: five real Chromium profiles (five devices) run the built SDK on a small real
// ONNX model against a real `wrangler dev`. Half their predictions fail, the edge's burn-rate check
// pages (`slo.breached`) and POSTs the event, signed, to a webhook receiver on 127.0.0.1; then a long
// good stretch brings every window under its threshold and `slo.recovered` follows the same way.
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SloStatus } from '../../core/formats/slo.ts'
import { verifyWebhook } from '../../core/webhook/signature.ts'
import { KIOSK_PROFILE, KIOSK_SIGNATURE } from '../helpers/kiosk-model.ts'
import { SdkDevices } from '../helpers/sdk-devices.ts'
import { cli, createAppKey, publishLinearModel } from '../helpers/edge-seed.ts'
import { telemetryQueueState } from '../helpers/sdk-page.ts'
import { serveStatic, type StaticServer } from '../helpers/static-server.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const DEVICES = 5
const SECRET = 'whsec_e2e_slo_0123456789abcdef'

/** Seeded good records. */
function records(seed: number, n: number): Record<string, unknown>[] {
  const rand = seededRandom(seed)
  const sky = ['clear', 'cloudy', 'rain']
  return Array.from({ length: n }, () => ({
    temp_max: -3 + rand() * 36,
    wind: rand() * 10,
    sky: sky[Math.floor(rand() * 3)],
  }))
}

interface Delivery {
  signatureValid: boolean
  event: string | undefined
  body: { id: string; type: string; details: Record<string, unknown> }
}

describe('SLO alerts from five real browsers', () => {
  let dev: WranglerDev
  let site: StaticServer
  let hooks: Server
  let hookUrl: string
  let appKey: string
  const received: Delivery[] = []
  const devices = new SdkDevices('slo')
  const { pages } = devices

  beforeAll(async () => {
    hooks = createServer((req, res) => {
      let raw = ''
      req.on('data', (d) => (raw += d))
      req.on('end', () => {
        void verifyWebhook(SECRET, req.headers['x-edgefleet-signature'] as string, raw, Date.now()).then((ok) => {
          received.push({
            signatureValid: ok,
            event: req.headers['x-edgefleet-event'] as string | undefined,
            body: JSON.parse(raw),
          })
          res.writeHead(204).end()
        })
      })
    })
    await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve))
    hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hooks/slo`
    const modelDir = devices.tempDir('model')
    const seed = async () => {
      dev = await startWranglerDev({ vars: { TELEMETRY_MIN_DEVICES: '2' } })
      await publishLinearModel(dev, modelDir, {
        model: 'kiosk',
        seed: 7,
        signature: KIOSK_SIGNATURE,
        profile: KIOSK_PROFILE,
      })
      appKey = await createAppKey(dev)
    }
    site = await serveStatic(`${root}test/e2e/pages/plain`, { mounts: { '/sdk/': `${root}dist/sdk` } })
    await Promise.all([seed(), devices.open(DEVICES, site.url)])
  }, 300_000)

  afterAll(async () => {
    await site?.close()
    await dev?.stop({ removeState: true })
    await new Promise((resolve) => hooks?.close(resolve))
    await devices.close()
  })

  /** Each device predicts its good records (half one by one, half as a batch) and `failures` refused inputs, then flushes. */
  async function predict(good: number, failures: number, seed: number): Promise<void> {
    await Promise.all(
      pages.map((page, i) =>
        page.evaluate(
          async ({ endpoint, appKey, rows, failures }) => {
            const g = globalThis as any
            g.fleet ??= g.edgefleet.createFleet({ endpoint, appKey })
            const model = await g.fleet.load('kiosk')
            const half = Math.floor(rows.length / 2)
            for (const row of rows.slice(0, half)) await model.predict(row)
            if (rows.length > half) await model.predictBatch(rows.slice(half))
            for (let k = 0; k < failures; k++) await model.predict(null).catch(() => undefined)
            await g.fleet.flush()
          },
          { endpoint: dev.url, appKey, rows: records(seed + i, good), failures },
        ),
      ),
    )
    for (const page of pages)
      await expect
        .poll(async () => (await telemetryQueueState(page)).batches, { timeout: 60_000, interval: 250 })
        .toBe(0)
  }

  async function events(type: string): Promise<{ id: string; type: string; details: any }[]> {
    const res = await fetch(`${dev.url}/v1/events?model=kiosk&type=${type}`, {
      headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
    })
    return ((await res.json()) as { events: { id: string; type: string; details: any }[] }).events
  }

  it('pages on a burst of failed predictions and recovers after a good stretch, each once, each delivered signed', async () => {
    const file = join(devices.tempDir('config'), 'slo.json')
    writeFileSync(
      file,
      JSON.stringify({
        objectives: [
          { name: 'answers', kind: 'error_rate', target: 0.99 },
          { name: 'fast', kind: 'latency', percentile: 99, thresholdMs: 10_000 },
        ],
        webhook: { url: hookUrl, secret: SECRET },
      }),
    )
    expect(await cli(dev, ['slo', 'set', 'kiosk', '--file', file])).toContain('answers          error rate ≤ 1.00%')

    // 20 good and 20 failed predictions on each device: a 50 % error rate burns a 1 % budget 50 times over.
    await predict(20, 20, 100)
    const paged = SloStatus.parse(
      JSON.parse(await cli(dev, ['slo', 'evaluate', 'kiosk', '--close-open-window', '--json'])),
    )
    expect(paged.objectives.map((o) => [o.name, o.state])).toEqual([
      ['answers', 'breached-fast'],
      ['fast', 'ok'],
    ])
    const w5 = paged.objectives[0]!.windows[0]!
    expect(w5).toMatchObject({ window: '5m', bad: 100, total: 200, devices: DEVICES })
    expect(w5.burnRate).toBeCloseTo(50, 9)
    const [breached] = await events('slo.breached')
    expect(breached).toMatchObject({ details: { to: 'breached-fast', severity: 'page' } })
    await expect.poll(() => received.length, { timeout: 60_000, interval: 250 }).toBeGreaterThanOrEqual(1)
    expect(received[0]).toMatchObject({ signatureValid: true, event: 'slo.breached', body: { id: breached!.id } })

    // 400 more good predictions each: 100 failures of 2200 inferences, a burn rate of ~4.5 in every window.
    await predict(400, 0, 200)
    const table = await cli(dev, ['slo', 'evaluate', 'kiosk', '--close-open-window'])
    expect(table).toMatch(/^answers\s+ok\s+4\.55\s+4\.55\s+4\.55\s+4\.55\s/m)
    const [recovered] = await events('slo.recovered')
    expect(recovered).toMatchObject({ details: { from: 'breached-fast', to: 'ok' } })
    // One event per state change, whoever judged it (this request or the edge's own minute evaluation).
    const changes = (await events('slo.*')).filter((e) => e.type !== 'slo.updated')
    expect(changes.slice(0, 2).map((e) => e.id)).toEqual([breached!.id, recovered!.id])
    await expect.poll(() => received.length, { timeout: 60_000, interval: 250 }).toBeGreaterThanOrEqual(2)
    expect(received.slice(0, 2).map((r) => [r.event, r.signatureValid, r.body.id])).toEqual([
      ['slo.breached', true, breached!.id],
      ['slo.recovered', true, recovered!.id],
    ])
  })
})
