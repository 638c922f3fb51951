// Fleet telemetry end to end: five real Chromium profiles (five devices, each with its own IndexedDB
// and device id) run the built SDK on the demo weather model against a real `wrangler dev`; what the
// pages counted must be exactly what the fleet view reads, per version, also after the edge is
// killed mid-stream and restarted on the same state while the devices keep predicting and flushing.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BrowserContext, Page, Route } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FleetView } from '../../core/formats/fleet.ts'
import { launchChromium } from '../helpers/browser.ts'
import { seededWeatherRows } from '../helpers/weather-rows.ts'
import { cli, createAppKey } from '../helpers/edge-seed.ts'
import { openSdkPage, telemetryQueueState } from '../helpers/sdk-page.ts'
import { serveStatic, type StaticServer } from '../helpers/static-server.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const WEATHER = join(root, 'demo', 'models', 'weather')
const FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind']
const DEVICES = 5
/** k of the fleet view, lowered from 5 by the Worker var so the test's own numbers decide it. */
const MIN_DEVICES = 2
const VARS = { TELEMETRY_MIN_DEVICES: String(MIN_DEVICES) }

type Counted = Record<number, { inferences: number; errors: number }>

/** Seeded days of weather around the training data's means. */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * In the page: a fleet with `weather` loaded and `globalThis.h`, which predicts and counts what it
 * did per version, the way the fleet view should see it: inferences from the version each
 * prediction reports, errors (a record that is not an object: the worker refuses it) against the
 * version in place when it was asked.
 */
function installHarness(page: Page, endpoint: string, appKey: string): Promise<{ deviceId: string; version: number }> {
  return page.evaluate(
    async ({ endpoint, appKey }) => {
      const g = globalThis as any
      const fleet = g.edgefleet.createFleet({ endpoint, appKey })
      const model = await fleet.load('weather')
      const counted: Record<number, { inferences: number; errors: number }> = {}
      const bump = (version: number, key: 'inferences' | 'errors') => {
        counted[version] ??= { inferences: 0, errors: 0 }
        counted[version][key]++
      }
      const h: any = {
        fleet,
        model,
        counted,
        loop: { predictions: 0, flushes: 0, stop: false, done: Promise.resolve() },
      }
      h.predict = async (rows: unknown[]) => {
        for (const row of rows) bump((await model.predict(row)).version, 'inferences')
      }
      h.predictBatch = async (rows: unknown[]) => {
        for (const p of await model.predictBatch(rows)) bump(p.version, 'inferences')
      }
      h.fail = async (n: number) => {
        for (let i = 0; i < n; i++) {
          const version = model.version
          const code = await model.predict(null).then(
            () => 'none',
            (e: any) => e.code,
          )
          if (code !== 'bad_request') throw new Error(`predict(null) answered ${code}`)
          bump(version, 'errors')
        }
      }
      // Predicts every 100 ms (every 9th call an error) and flushes every `flushEveryMs`, until stopped.
      h.startLoop = (rows: unknown[], flushEveryMs: number) => {
        const loop = { predictions: 0, flushes: 0, stop: false, done: Promise.resolve() }
        h.loop = loop
        loop.done = (async () => {
          let lastFlush = performance.now()
          for (let i = 0; !loop.stop; i++) {
            if (i % 9 === 8) await h.fail(1)
            else await h.predict([rows[i % rows.length]])
            loop.predictions++
            if (performance.now() - lastFlush >= flushEveryMs) {
              await fleet.flush()
              loop.flushes++
              lastFlush = performance.now()
            }
            await new Promise((r) => setTimeout(r, 100))
          }
        })()
      }
      h.stopLoop = async () => {
        h.loop.stop = true
        await h.loop.done
      }
      g.h = h
      return { deviceId: await fleet.deviceId(), version: model.version }
    },
    { endpoint, appKey },
  )
}

const counted = (page: Page): Promise<Counted> => page.evaluate(() => (globalThis as any).h.counted)
const loopStats = (page: Page): Promise<{ predictions: number; flushes: number }> =>
  page.evaluate(() => ({
    predictions: (globalThis as any).h.loop.predictions,
    flushes: (globalThis as any).h.loop.flushes,
  }))

/** Flushes until the page's telemetry queue is empty (the transport's backoff decides when a send happens). */
async function drain(page: Page, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    await page.evaluate(() => (globalThis as any).h.fleet.flush())
    const q = await telemetryQueueState(page)
    expect(q.dropped, 'no telemetry dropped on the device').toEqual({})
    if (q.batches === 0) return
    if (Date.now() > deadline)
      throw new Error(`the telemetry queue still holds ${q.batches} batches after ${timeoutMs} ms`)
    await sleep(250)
  }
}

/** Polls `check` until it is true or the deadline passes (then fails with `what`). */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(200)
  }
}

/** What the pages counted, summed per version, as the fleet view should show it. */
function expectedTotals(all: Counted[]): Record<number, { devices: number; inferences: number; errors: number }> {
  const out: Record<number, { devices: number; inferences: number; errors: number }> = {}
  for (const c of all)
    for (const [v, n] of Object.entries(c)) {
      const t = (out[Number(v)] ??= { devices: 0, inferences: 0, errors: 0 })
      t.devices++
      // Attempts: a refused input is an inference that failed.
      t.inferences += n.inferences + n.errors
      t.errors += n.errors
    }
  return out
}

describe('fleet telemetry from five real browsers', () => {
  let dev: WranglerDev
  let site: StaticServer
  let appKey: string
  const dirs: string[] = []
  const contexts: BrowserContext[] = []
  const pages: Page[] = []
  /** Every 202 answer to a telemetry POST the browsers saw, by device. */
  const answers: { device: number; accepted: number; duplicate: boolean }[][] = []

  async function fleetTotals(): Promise<
    Record<number, { devices: number; inferences: number; errors: number; loads: number; cacheHits: number }>
  > {
    const res = await fetch(`${dev.url}/v1/models/weather/telemetry`, {
      headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
    })
    expect(res.status).toBe(200)
    const view = FleetView.parse(await res.json())
    expect(view.minDevices).toBe(MIN_DEVICES)
    const out: Awaited<ReturnType<typeof fleetTotals>> = {}
    for (const c of view.cohorts) {
      expect(c.role).toBe('primary')
      expect(c.rollout).toBeNull()
      if (c.total.suppressed) throw new Error(`version ${c.version} is suppressed: ${JSON.stringify(c.total)}`)
      const t = c.total
      expect(t.devicesRelativeError).toBe(0)
      // Every successful inference bins each feature once, as a value or as missing; a failed one
      // counts as an inference and an error (here every error is a refused input).
      for (const f of FEATURES)
        expect(t.features[f].n + t.features[f].missing, `${f} of v${c.version}`).toBe(t.inferences - t.errors)
      out[c.version] = {
        devices: t.devices,
        inferences: t.inferences,
        errors: t.errors,
        loads: t.loads,
        cacheHits: t.cacheHits,
      }
    }
    return out
  }

  /** The fleet view next to what the pages counted (loads and cache hits: one load per device and version). */
  async function expectFleetToMatchPages(loads: Record<number, { loads: number; cacheHits: number }>): Promise<void> {
    const expected = expectedTotals(await Promise.all(pages.map(counted)))
    const want: Record<number, object> = {}
    for (const [v, t] of Object.entries(expected)) want[Number(v)] = { ...t, ...loads[Number(v)] }
    expect(await fleetTotals()).toEqual(want)
  }

  beforeAll(async () => {
    const seed = async () => {
      dev = await startWranglerDev({ vars: VARS })
      await cli(dev, ['runtime', 'push'])
      const files = [
        join(WEATHER, 'model.onnx'),
        '--signature',
        join(WEATHER, 'signature.json'),
        '--profile',
        join(WEATHER, 'profile.json'),
      ]
      await cli(dev, ['publish', 'weather', ...files, '--alias', 'production'])
      // Version 2: the same bytes, published for the swap below.
      await cli(dev, ['publish', 'weather', ...files])
      appKey = await createAppKey(dev)
    }
    const openDevice = async (i: number) => {
      dirs[i] = mkdtempSync(join(tmpdir(), `edgefleet-device-${i}-`))
      answers[i] = []
      contexts[i] = await launchChromium(dirs[i])
      contexts[i].on('response', async (res) => {
        if (
          res.request().method() !== 'POST' ||
          !res.url().startsWith(`${dev.url}/v1/telemetry`) ||
          res.status() !== 202
        )
          return
        const body = (await res.json().catch(() => null)) as { accepted: number; duplicate: boolean } | null
        if (body) answers[i].push({ device: i, ...body })
      })
      pages[i] = await openSdkPage(contexts[i], site.url)
    }
    site = await serveStatic(`${root}test/e2e/pages/plain`, { mounts: { '/sdk/': `${root}dist/sdk` } })
    // The browsers start while the edge is seeded; they need it only to load the model.
    await Promise.all([seed(), ...Array.from({ length: DEVICES }, (_, i) => openDevice(i))])
    const started = await Promise.all(pages.map((p) => installHarness(p, dev.url, appKey)))
    expect(new Set(started.map((s) => s.deviceId)).size).toBe(DEVICES)
    expect(started.map((s) => s.version)).toEqual(Array(DEVICES).fill(1))
  }, 300_000)

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close().catch(() => undefined)))
    await site?.close()
    await dev?.stop({ removeState: true })
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  it('reads exactly the inferences, errors, loads and devices the pages counted', async () => {
    await Promise.all(
      pages.map(async (page, i) => {
        const rows = seededWeatherRows(100 + i, 12 + 7 * i)
        await page.evaluate(
          async ({ rows, errors }) => {
            const h = (globalThis as any).h
            await h.predict(rows.slice(0, 8))
            await h.fail(errors)
            await h.predictBatch(rows.slice(8))
          },
          { rows, errors: i },
        )
        await drain(page)
      }),
    )
    await expectFleetToMatchPages({ 1: { loads: DEVICES, cacheHits: 0 } })
  })

  it('counts each inference under the version that ran it across a swap to a new version', async () => {
    await cli(dev, ['alias', 'weather', 'production', '2'])
    await Promise.all(
      pages.map(async (page, i) => {
        const rows = seededWeatherRows(200 + i, 10 + 3 * i)
        const after = await page.evaluate(async (rows) => {
          const h = (globalThis as any).h
          // Inferences on version 1 that no flush has collected yet, then the swap.
          await h.predict(rows.slice(0, 5))
          await h.model.refresh()
          await h.predict(rows.slice(5))
          await h.fail(1)
          return h.model.version
        }, rows)
        expect(after).toBe(2)
        await drain(page)
      }),
    )
    // Version 2 has the same files: its load on every device came from the cache.
    await expectFleetToMatchPages({ 1: { loads: DEVICES, cacheHits: 0 }, 2: { loads: DEVICES, cacheHits: DEVICES } })
  })

  it('loses and double-counts nothing when the edge is killed mid-stream and restarted on the same state', async () => {
    // One stored batch per device whose 202 never reaches the device: it must resend, and the edge dedupe.
    const lost = await Promise.all(contexts.map((c) => loseNextAcknowledgement(c, `${dev.url}/v1/telemetry**`)))
    await Promise.all(
      pages.map((page, i) =>
        page.evaluate(({ rows }) => (globalThis as any).h.startLoop(rows, 1500), {
          rows: seededWeatherRows(300 + i, 40),
        }),
      ),
    )
    await Promise.all(lost.map((l) => l.stored))
    await waitFor('every device to flush twice while the edge is up', async () =>
      (await Promise.all(pages.map(loopStats))).every((s) => s.flushes >= 2),
    )

    await dev.stop({ signal: 'SIGKILL' })
    const atKill = await Promise.all(pages.map(loopStats))
    // The devices keep predicting and flushing into the void; their batches wait in IndexedDB.
    await waitFor('every device to queue batches while the edge is down', async () => {
      const [stats, queues] = await Promise.all([
        Promise.all(pages.map(loopStats)),
        Promise.all(pages.map(telemetryQueueState)),
      ])
      return stats.every((s, i) => s.flushes >= atKill[i].flushes + 3) && queues.every((q) => q.batches >= 2)
    })

    const endpoint = dev.url
    dev = await startWranglerDev({ stateDir: dev.stateDir, port: dev.port, vars: VARS })
    expect(dev.url).toBe(endpoint)
    const atRestart = await Promise.all(pages.map(loopStats))
    await waitFor(
      'every device to flush twice after the restart',
      async () => (await Promise.all(pages.map(loopStats))).every((s, i) => s.flushes >= atRestart[i].flushes + 2),
      90_000,
    )
    await Promise.all(pages.map((p) => p.evaluate(() => (globalThis as any).h.stopLoop())))
    await Promise.all(pages.map((p) => drain(p)))

    await expectFleetToMatchPages({ 1: { loads: DEVICES, cacheHits: 0 }, 2: { loads: DEVICES, cacheHits: DEVICES } })
    // The batch whose answer was lost came back and was recognized as stored.
    for (let i = 0; i < DEVICES; i++) {
      expect(await lost[i].stored).toMatchObject({ status: 202, body: { duplicate: false } })
      expect(
        answers[i].some((a) => a.duplicate && a.accepted === 0),
        `device ${i} resent its unacknowledged batch`,
      ).toBe(true)
    }
  }, 240_000)
})

/**
 * Lets the next telemetry POST of a browser reach the edge, then cuts the connection before the
 * browser sees the answer (a lost acknowledgement). `stored` resolves with the edge's answer.
 */
async function loseNextAcknowledgement(
  context: BrowserContext,
  pattern: string,
): Promise<{ stored: Promise<{ status: number; body: unknown }> }> {
  let taken = false
  let resolve!: (v: { status: number; body: unknown }) => void
  let reject!: (e: unknown) => void
  const stored = new Promise<{ status: number; body: unknown }>((res, rej) => ((resolve = res), (reject = rej)))
  const handler = async (route: Route) => {
    if (taken || route.request().method() !== 'POST') return route.fallback()
    taken = true
    try {
      const res = await route.fetch()
      resolve({ status: res.status(), body: await res.json().catch(() => null) })
    } catch (e) {
      reject(e)
    } finally {
      await route.abort('connectionreset')
      await context.unroute(pattern, handler)
    }
  }
  await context.route(pattern, handler)
  return { stored }
}
