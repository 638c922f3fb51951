import type { Browser, BrowserContext, Page } from 'playwright-core'
import type { WeatherDay } from './weather-days.ts'

/** The page's globals: the SDK module, then the device's state (typed loosely: this runs in the browser). */
interface PageGlobals {
  edgefleet?: { createFleet(options: object): SimFleet }
  sim: { fleet: SimFleet; model: SimModel; stats: DeviceStats }
}
interface SimFleet {
  load(model: string): Promise<SimModel>
  feedback(id: string, label: string): unknown
  flush(): Promise<void>
  close(): Promise<void>
  deviceId(): Promise<string>
}
interface SimModel {
  predict(row: object): Promise<{ id: string; version: number }>
  refresh(): Promise<void>
}

/** What one simulated device did so far, as its page counted it. */
export interface DeviceStats {
  predictions: number
  errors: number
  versions: Record<number, number>
  flushes: number
}

/**
 * One simulated device: its own non-persistent browser context (own IndexedDB, own device id) with a
 * page on the edge's origin that imports the SDK the edge serves (`/sdk/edgefleet.js`) and runs the
 * real download, verify, cache, worker, drift and telemetry code of `createFleet().load(model)`.
 */
export class SimDevice {
  private constructor(
    readonly id: string,
    /** The id the edge sees: the SDK sends a hash of the app-supplied id. */
    readonly wireId: string,
    readonly context: BrowserContext,
    readonly page: Page,
  ) {}

  /** Opens the device's page and loads `model` through the SDK. */
  static async open(browser: Browser, options: { url: string; appKey: string; model: string; id: string }) {
    const context = await browser.newContext()
    const page = await context.newPage()
    // A page of the edge's own origin, answered here, so the SDK and the API are same-origin.
    const home = `${options.url}/__simulated-device__`
    await page.route(home, (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><meta charset="utf-8"><title>${options.id}</title><script type="module">import * as e from '/sdk/edgefleet.js'; globalThis.edgefleet = e</script>`,
      }),
    )
    await page.goto(home)
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).edgefleet !== undefined, undefined, {
      timeout: 60_000,
    })
    await page.evaluate(
      async ({ url, appKey, model, id }) => {
        const g = globalThis as unknown as PageGlobals
        const fleet = g.edgefleet!.createFleet({ endpoint: url, appKey, deviceId: id })
        const m = await fleet.load(model)
        g.sim = { fleet, model: m, stats: { predictions: 0, errors: 0, versions: {}, flushes: 0 } }
      },
      { url: options.url, appKey: options.appKey, model: options.model, id: options.id },
    )
    const wireId = await page.evaluate(() => (globalThis as unknown as PageGlobals).sim.fleet.deviceId())
    return new SimDevice(options.id, wireId, context, page)
  }

  /**
   * Predicts `days` one by one, gives the observed label as feedback, and flushes telemetry; asks
   * the edge for its assignment first (a rollout moves devices between versions).
   */
  async live(days: readonly WeatherDay[], options: { refresh: boolean; flush: boolean }): Promise<void> {
    await this.page.evaluate(
      async ({ days, refresh, flush }) => {
        const s = (globalThis as unknown as PageGlobals).sim
        if (refresh) await s.model.refresh().catch(() => undefined)
        for (const d of days) {
          try {
            const p = await s.model.predict({
              precipitation: d.precipitation,
              temp_max: d.temp_max,
              temp_min: d.temp_min,
              wind: d.wind,
            })
            s.stats.predictions++
            s.stats.versions[p.version] = (s.stats.versions[p.version] ?? 0) + 1
            s.fleet.feedback(p.id, d.weather)
          } catch {
            s.stats.errors++
          }
        }
        if (!flush) return
        await s.fleet.flush().catch(() => undefined)
        s.stats.flushes++
      },
      { days: days as WeatherDay[], ...options },
    )
  }

  /** Flushes until the SDK's IndexedDB telemetry queue is empty (its backoff decides when a send happens). */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      await this.live([], { refresh: false, flush: true })
      if ((await this.queuedBatches()) === 0) return true
      if (Date.now() > deadline) return false
      await new Promise((r) => setTimeout(r, 500))
    }
  }

  /** Batches waiting in the SDK's telemetry queue (database `edgefleet`, store `telemetry`). */
  private queuedBatches(): Promise<number> {
    return this.page.evaluate(
      () =>
        new Promise<number>((resolve, reject) => {
          // No DOM types in this tsconfig: the few IndexedDB calls are typed by hand.
          type Req<T> = { result: T; error: unknown; onsuccess: () => void; onerror: () => void }
          type Db = { close(): void; transaction(s: string): { objectStore(s: string): { count(): Req<number> } } }
          const idb = (globalThis as unknown as { indexedDB: { open(name: string): Req<Db> } }).indexedDB
          const open = idb.open('edgefleet')
          open.onerror = () => reject(open.error)
          open.onsuccess = () => {
            const db = open.result
            const count = db.transaction('telemetry').objectStore('telemetry').count()
            count.onsuccess = () => (db.close(), resolve(count.result))
            count.onerror = () => (db.close(), reject(count.error))
          }
        }),
    )
  }

  /** Cuts (or restores) the device's network; the SDK queues telemetry in IndexedDB meanwhile. */
  setOffline(offline: boolean): Promise<void> {
    return this.context.setOffline(offline)
  }

  /** The page's counters. */
  stats(): Promise<DeviceStats> {
    return this.page.evaluate(() => (globalThis as unknown as PageGlobals).sim.stats)
  }

  /** Flushes what is left and closes the context. */
  async close(): Promise<void> {
    await this.page.evaluate(() => (globalThis as unknown as PageGlobals).sim.fleet.close()).catch(() => undefined)
    await this.context.close().catch(() => undefined)
  }
}
