// Telemetry end to end under faults: DEVICES browser contexts (each its own IndexedDB and device id, all
// in one real Chromium) run the built SDK on the demo weather model against a real `wrangler dev` and
// predict a seeded number of rows each, flushing every second, while
// - the edge is killed (SIGKILL, requests in flight cut off) and restarted on the same state, twice;
// - the network flaps: every context goes offline and back online, twice;
// - the edge answers 429 for a while: flushing every second exceeds the real per-device limit of
//   wrangler.toml (30 a minute), so every device is refused with `rate_limited` and a Retry-After of 60 s.
// At the end the fleet view holds exactly the inferences and devices the pages counted (no loss, no
// double count) and every device's telemetry queue in IndexedDB is empty.
import { fileURLToPath } from 'node:url'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FleetView } from '../../core/formats/fleet.ts'
import { chromiumArgs, chromiumPath } from '../../scripts/lib/chromium.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'
import { createAppKey, publishWeather } from '../helpers/edge-seed.ts'
import { openSdkPage, telemetryQueueState } from '../helpers/sdk-page.ts'
import { serveStatic, type StaticServer } from '../helpers/static-server.ts'
import { seededWeatherRows } from '../helpers/weather-rows.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
/**
 * 20 devices, as the issue asks: one Chromium with 20 contexts (renderers of a few tens of MB each)
 * keeps the two shared cores usable, where 20 separate browsers would not.
 */
const DEVICES = 20
const VARS = { TELEMETRY_MIN_DEVICES: '2' }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** In the page: a fleet with `weather` loaded, and a loop that predicts seeded rows and flushes every `flushEveryMs`. */
function installHarness(page: Page, endpoint: string, appKey: string): Promise<string> {
  return page.evaluate(
    async ({ endpoint, appKey }) => {
      const g = globalThis as any
      const fleet = g.edgefleet.createFleet({ endpoint, appKey })
      const model = await fleet.load('weather')
      const h: any = { fleet, model, inferences: 0, flushes: 0, stop: false, done: Promise.resolve() }
      h.start = (rows: unknown[], flushEveryMs: number) => {
        h.done = (async () => {
          let lastFlush = performance.now()
          for (let i = 0; !h.stop; i++) {
            await model.predict(rows[i % rows.length])
            h.inferences++
            if (performance.now() - lastFlush >= flushEveryMs) {
              await fleet.flush()
              h.flushes++
              lastFlush = performance.now()
            }
            await new Promise((r) => setTimeout(r, 120))
          }
        })()
      }
      h.halt = async () => {
        h.stop = true
        await h.done
      }
      g.h = h
      return fleet.deviceId()
    },
    { endpoint, appKey },
  )
}

const stats = (page: Page): Promise<{ inferences: number; flushes: number }> =>
  page.evaluate(() => ({ inferences: (globalThis as any).h.inferences, flushes: (globalThis as any).h.flushes }))

/** Polls `check` until it is true or the deadline passes (then fails with `what`). */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(250)
  }
}

describe(`telemetry from ${DEVICES} browsers under faults`, () => {
  let dev: WranglerDev
  let site: StaticServer
  let browser: Browser
  let appKey: string
  const contexts: BrowserContext[] = []
  const pages: Page[] = []
  /** Telemetry answers the browsers saw, by status, and the 5xx among them. */
  const statuses: Record<number, number> = {}
  const refusedDevices = new Set<number>()
  const faults: string[] = []

  /** Each device's flushes counted from now reach `n` more. */
  async function flushesAfterNow(what: string, n: number, timeoutMs?: number): Promise<void> {
    const at = await Promise.all(pages.map(stats))
    await waitFor(
      what,
      async () => (await Promise.all(pages.map(stats))).every((s, i) => s.flushes >= at[i].flushes + n),
      timeoutMs,
    )
  }

  async function killAndRestart(): Promise<void> {
    await dev.stop({ signal: 'SIGKILL' })
    faults.push('edge killed (SIGKILL)')
    // The devices keep predicting and flushing into the void; their batches wait in IndexedDB.
    await waitFor('every device to queue batches while the edge is down', async () =>
      (await Promise.all(pages.map(telemetryQueueState))).every((q) => q.batches >= 2),
    )
    const endpoint = dev.url
    dev = await startWranglerDev({ stateDir: dev.stateDir, port: dev.port, vars: VARS })
    expect(dev.url).toBe(endpoint)
    faults.push('edge restarted on the same state')
  }

  async function flap(): Promise<void> {
    await Promise.all(contexts.map((c) => c.setOffline(true)))
    faults.push('network offline')
    await flushesAfterNow('every device to flush while offline', 2)
    await Promise.all(contexts.map((c) => c.setOffline(false)))
    faults.push('network online')
  }

  beforeAll(async () => {
    dev = await startWranglerDev({ vars: VARS })
    await publishWeather(dev)
    appKey = await createAppKey(dev)
    site = await serveStatic(`${root}test/e2e/pages/plain`, { mounts: { '/sdk/': `${root}dist/sdk` } })
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs })
    for (let i = 0; i < DEVICES; i++) {
      const context = await browser.newContext()
      context.on('response', (res) => {
        if (res.request().method() !== 'POST' || !res.url().startsWith(`${dev.url}/v1/telemetry`)) return
        statuses[res.status()] = (statuses[res.status()] ?? 0) + 1
        if (res.status() === 429) refusedDevices.add(i)
      })
      contexts.push(context)
      pages.push(await openSdkPage(context, site.url))
    }
    const ids = await Promise.all(pages.map((p) => installHarness(p, dev.url, appKey)))
    expect(new Set(ids).size).toBe(DEVICES)
  }, 600_000)

  afterAll(async () => {
    await browser?.close()
    await site?.close()
    await dev?.stop({ removeState: true })
  })

  it('ends with the fleet totals the pages counted and every device queue empty', async () => {
    await Promise.all(
      pages.map((page, i) =>
        page.evaluate(({ rows }) => (globalThis as any).h.start(rows, 1000), {
          rows: seededWeatherRows(1600 + i, 50),
        }),
      ),
    )
    await flushesAfterNow('every device to flush twice', 2)
    await killAndRestart()
    await flushesAfterNow('every device to flush after the first restart', 2)
    await flap()
    await flushesAfterNow('every device to flush after the first flap', 2)
    await killAndRestart()
    await flap()
    // Flushing every second runs into the per-device limit (30 a minute) on every device.
    await waitFor('the edge to refuse every device with 429', async () => refusedDevices.size === DEVICES, 120_000)
    faults.push('429 rate_limited on every device')
    await Promise.all(pages.map((p) => p.evaluate(() => (globalThis as any).h.halt())))

    // Drain: flush until every queue is empty (the 429s' Retry-After of 60 s holds the sends back).
    await waitFor(
      'every device queue to drain',
      async () => {
        const queues = await Promise.all(
          pages.map(async (p) => {
            await p.evaluate(() => (globalThis as any).h.fleet.flush())
            return telemetryQueueState(p)
          }),
        )
        for (const q of queues) expect(q.dropped, 'no telemetry dropped on a device').toEqual({})
        return queues.every((q) => q.batches === 0)
      },
      180_000,
    )

    const counted = await Promise.all(pages.map(stats))
    const inferences = counted.reduce((n, s) => n + s.inferences, 0)
    const res = await fetch(`${dev.url}/v1/models/weather/telemetry`, {
      headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
    })
    expect(res.status).toBe(200)
    const view = FleetView.parse(await res.json())
    expect(view.cohorts.map((c) => c.version)).toEqual([1])
    const total = view.cohorts[0]!.total
    if (total.suppressed) throw new Error(`the fleet view is suppressed: ${JSON.stringify(total)}`)
    console.log(
      `faults: ${faults.join(', ')}; telemetry answers ${JSON.stringify(statuses)}; pages counted ${inferences} inferences, the fleet view ${total.inferences} on ${total.devices} devices`,
    )
    expect({ inferences: total.inferences, devices: total.devices, errors: total.errors }).toEqual({
      inferences,
      devices: DEVICES,
      errors: 0,
    })
    // Drops a device counted travel to the edge in its next batch: none may have happened anywhere.
    expect(view.deviceDropped, 'reports dropped on a device, as the edge received their counts').toEqual({})
    expect(statuses[429]).toBeGreaterThan(0)
    expect(Object.keys(statuses).filter((s) => Number(s) >= 500)).toEqual([])
    for (const q of await Promise.all(pages.map(telemetryQueueState))) expect(q).toEqual({ batches: 0, dropped: {} })
  }, 900_000)
})
