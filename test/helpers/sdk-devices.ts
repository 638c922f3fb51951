import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { launchChromium } from './browser.ts'
import { openSdkPage } from './sdk-page.ts'

/**
 * The simulated devices of a fleet e2e suite: each a Chromium profile of its own (its own IndexedDB,
 * so its own device id, cache and telemetry queue) with the SDK page open, plus the suite's other
 * temporary directories. `close()` closes every browser and removes every directory, also after a
 * failed `open`.
 *
 * @example
 * const devices = new SdkDevices('quality')
 * await Promise.all([seedEdge(), devices.open(5, site.url)])
 * afterAll(() => devices.close())
 */
export class SdkDevices {
  readonly contexts: BrowserContext[] = []
  readonly pages: Page[] = []
  private readonly dirs: string[] = []

  constructor(private readonly suite: string) {}

  /** A fresh temporary directory named after the suite, removed by `close()`. */
  tempDir(what: string): string {
    const dir = mkdtempSync(join(tmpdir(), `edgefleet-${this.suite}-${what}-`))
    this.dirs.push(dir)
    return dir
  }

  /** Opens `count` devices on the SDK page at `url`, in parallel. */
  async open(count: number, url: string): Promise<void> {
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        this.contexts[i] = await launchChromium(this.tempDir(`device-${i}`))
        this.pages[i] = await openSdkPage(this.contexts[i]!, url)
      }),
    )
  }

  /** Closes every device and removes every directory made here. */
  async close(): Promise<void> {
    await Promise.all(this.contexts.map((c) => c.close().catch(() => undefined)))
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true })
  }
}
