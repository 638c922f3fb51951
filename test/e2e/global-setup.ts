import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/**
 * Builds the SDK (dist/sdk, public/sdk) once before any e2e file runs, if its sources changed: the
 * tests that load it in Chromium, and `npm start` under test, then find it fresh and never rebuild it
 * under each other's feet.
 */
export default function buildSdkIfStale(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  const build = spawnSync(process.execPath, ['scripts/build-sdk.mjs', '--if-stale'], { cwd: root, stdio: 'inherit' })
  if (build.status !== 0) throw new Error(`scripts/build-sdk.mjs --if-stale failed (exit ${build.status})`)
}
