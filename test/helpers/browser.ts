import { chromium, type BrowserContext } from 'playwright-core'
import { chromiumArgs, chromiumPath } from '../../scripts/lib/chromium.ts'

/**
 * A real Chromium with a persistent profile folder (IndexedDB survives `close()` and a relaunch on
 * the same folder, as after a browser restart).
 */
export async function launchChromium(profileDir: string, extraArgs: string[] = []): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    headless: true,
    args: [...chromiumArgs, ...extraArgs],
  })
}
