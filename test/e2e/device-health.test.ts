// Device health end to end: a real Chromium profile runs the built SDK against a real `wrangler dev`;
// its inference worker is closed under a loaded version, and a second page is closed while a load is
// still downloading, then the browser is started again on the same profile. The fleet view must read
// back exactly one worker crash and one abandoned load (the crash beacon), and the crash rate they make.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FleetView } from '../../core/formats/fleet.ts'
import { launchChromium } from '../helpers/browser.ts'
import { cli, createAppKey, publishWeather } from '../helpers/edge-seed.ts'
import { openSdkPage } from '../helpers/sdk-page.ts'
import { serveStatic, type StaticServer } from '../helpers/static-server.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const ROW = { precipitation: 0, temp_max: 12, temp_min: 5, wind: 3 }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** `p`, or `fallback` after `ms` (a worker that is busy or gone answers no evaluate). */
const within = <T>(p: Promise<T>, ms: number, fallback: T) =>
  Promise.race([p.catch(() => fallback), sleep(ms).then(() => fallback)])

describe('device health from a real browser', () => {
  let dev: WranglerDev
  let site: StaticServer
  let appKey: string
  let dir: string
  let context: BrowserContext | undefined

  beforeAll(async () => {
    dev = await startWranglerDev({ vars: { TELEMETRY_MIN_DEVICES: '1' } })
    await cli(dev, ['runtime', 'push'])
    await publishWeather(dev)
    appKey = await createAppKey(dev)
    site = await serveStatic(`${root}test/e2e/pages/plain`, { mounts: { '/sdk/': `${root}dist/sdk` } })
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-health-'))
  }, 300_000)

  afterAll(async () => {
    await context?.close().catch(() => undefined)
    await site?.close()
    await dev?.stop({ removeState: true })
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  /** A fleet in the page as `globalThis.f`, on database `dbName` (each database is one device). */
  const startFleet = (page: Page, dbName: string) =>
    page.evaluate(
      ({ endpoint, appKey, dbName }) => {
        ;(globalThis as any).f = (globalThis as any).edgefleet.createFleet({ endpoint, appKey, dbName })
      },
      { endpoint: dev.url, appKey, dbName },
    )

  async function health(): Promise<unknown> {
    const res = await fetch(`${dev.url}/v1/models/weather/telemetry`, {
      headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
    })
    const view = FleetView.parse(await res.json())
    const total = view.cohorts.find((c) => c.version === 1)?.total
    return total && !total.suppressed ? { health: total.health, loads: total.loads } : null
  }

  it('reads back a worker crash and a load the closed page left, exactly, in the fleet view', async () => {
    context = await launchChromium(dir)
    const page = await openSdkPage(context, site.url)
    await startFleet(page, 'device-a')
    await page.evaluate(async (row) => {
      const f = (globalThis as any).f
      await (await f.load('weather')).predict(row)
      // What the worker counted so far goes out now: a crashed worker takes its uncollected counts with it.
      await f.flush()
    }, ROW)
    // The SDK's inference worker (named `edgefleet:<id>`) ends itself, as a crashed worker would.
    let closed = 0
    for (const w of page.workers())
      if (
        String(
          await within(
            w.evaluate(() => (globalThis as any).name),
            5_000,
            '',
          ),
        ).startsWith('edgefleet:')
      ) {
        await within(
          w.evaluate(() => void setTimeout(() => (globalThis as any).close(), 0)),
          5_000,
          undefined,
        )
        closed++
      }
    expect(closed).toBe(1)
    await sleep(1_000)
    await page.evaluate(() => (globalThis as any).f.flush())

    // A second device starts a load whose files never arrive, and its browser is closed mid-load.
    await context.route(
      '**/v1/artifacts/**',
      (route) => void sleep(60_000).then(() => route.abort().catch(() => undefined)),
    )
    const second = await openSdkPage(context, site.url)
    await startFleet(second, 'device-b')
    void second.evaluate(() => (globalThis as any).f.load('weather')).catch(() => undefined)
    for (let i = 0; ; i++) {
      const keys: string[] = await second.evaluate(
        () =>
          new Promise((resolve, reject) => {
            const open = (globalThis as any).indexedDB.open('device-b')
            // Not created yet by the SDK: this read must not create it (nor block its upgrade).
            open.onupgradeneeded = () => open.transaction.abort()
            open.onerror = () => resolve([])
            open.onsuccess = () => {
              const db = open.result
              if (!db.objectStoreNames.contains('meta')) {
                db.close()
                resolve([])
                return
              }
              const req = db.transaction('meta').objectStore('meta').getAllKeys()
              req.onerror = () => reject(req.error)
              req.onsuccess = () => {
                db.close()
                resolve(req.result.map(String))
              }
            }
          }),
      )
      if (keys.some((k) => k.startsWith('loading:'))) break
      if (i > 300) throw new Error('no load marker was written')
      await sleep(100)
    }
    await within(context.close(), 20_000, undefined)
    context = undefined

    // The browser starts again on the same profile; the page loads the model and sends the beacon.
    context = await launchChromium(dir)
    const again = await openSdkPage(context, site.url)
    await startFleet(again, 'device-b')
    await again.evaluate(async (row) => {
      const f = (globalThis as any).f
      await (await f.load('weather')).predict(row)
      await f.flush()
    }, ROW)

    const deadline = Date.now() + 60_000
    let seen: unknown
    const want = {
      health: {
        deviceLost: 0,
        oomLoad: 0,
        oomRun: 0,
        workerCrash: 1,
        loadAbandoned: 1,
        crashes: 2,
        sessions: 3,
        crashRate: 2 / 3,
      },
      loads: 2,
    }
    while (Date.now() < deadline) {
      seen = await health()
      if (JSON.stringify(seen) === JSON.stringify(want)) break
      await again.evaluate(() => (globalThis as any).f.flush())
      await sleep(500)
    }
    expect(seen).toEqual(want)
  }, 300_000)
})
