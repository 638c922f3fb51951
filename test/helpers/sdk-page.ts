import type { BrowserContext, Page } from 'playwright-core'

/**
 * Opens the plain module page of a customer's site (test/e2e/pages/plain, with `/sdk/` mounted on
 * dist/sdk) and waits until the built SDK is imported as `globalThis.edgefleet`.
 */
export async function openSdkPage(context: BrowserContext, siteUrl: string): Promise<Page> {
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`))
  await page.goto(`${siteUrl}/index.html`)
  try {
    await page.waitForFunction(() => (globalThis as any).edgefleet !== undefined, undefined, { timeout: 60_000 })
  } catch (e) {
    throw new Error(`the SDK did not load in the page: ${problems.join('; ') || 'no error reported'}`, { cause: e })
  }
  return page
}

/** What the SDK's IndexedDB holds for telemetry: batches waiting and drop counts not yet reported. */
export interface TelemetryQueueState {
  batches: number
  dropped: Record<string, number>
}

/** Reads the page's telemetry queue (database `edgefleet`, store `telemetry`, meta `telemetryDropped`) over its own connection. */
export function telemetryQueueState(page: Page): Promise<TelemetryQueueState> {
  // Runs in the page; this tsconfig has no DOM types, hence the `any`s.
  return page.evaluate(async () => {
    const ask = <T>(req: any) =>
      new Promise<T>(
        (resolve, reject) => ((req.onsuccess = () => resolve(req.result)), (req.onerror = () => reject(req.error))),
      )
    const db: any = await ask((globalThis as any).indexedDB.open('edgefleet'))
    try {
      const tx = db.transaction(['telemetry', 'meta'])
      const [batches, dropped] = await Promise.all([
        ask<number>(tx.objectStore('telemetry').count()),
        ask<Record<string, number> | undefined>(tx.objectStore('meta').get('telemetryDropped')),
      ])
      return { batches, dropped: dropped ?? {} }
    } finally {
      db.close()
    }
  })
}
