/**
 * @module
 * Global setup of the projects that drive Chromium (browser, browser-webgpu, e2e): a missing browser
 * fails the run with the command that installs it. The unit and edge projects never load this, so
 * `npm run test:unit` and `npm run test:edge` work on a machine without Chromium.
 */
import { existsSync } from 'node:fs'
import { chromiumPath } from '../../scripts/lib/chromium.ts'

/** Throws, naming the fix, when the Chromium these suites drive is not installed. */
export default function requireChromium(): void {
  if (existsSync(chromiumPath)) return
  throw new Error(
    `Chromium not found at ${chromiumPath}. Install it with \`sudo apt-get install -y chromium\` ` +
      'or point EDGEFLEET_CHROMIUM at a Chromium binary. The browser and e2e suites are never skipped.',
  )
}
