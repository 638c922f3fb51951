// A build while a local edge serves its output: `npm start` and the e2e set-up build the SDK and the
// dashboard into public/ while other edges (and test pages on dist/sdk) may be serving them. Every
// request during the builds gets the whole file, and a build of unchanged sources writes nothing, so
// wrangler dev's watcher on public/ never reloads the assets under a loading page.
import { spawn } from 'node:child_process'
import { statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'
// @ts-expect-error: a plain .mjs script without declarations
import { readTree as readTreeJs } from '../../scripts/lib/sync-files.mjs'

const readTree = readTreeJs as (dir: string) => Map<string, Buffer>
const root = fileURLToPath(new URL('../..', import.meta.url))

/** Runs a build script to its end; resolves with its exit code and output. */
function build(script: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${root}scripts/${script}`], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    child.on('error', reject)
    child.on('exit', (code) => resolve({ code, output }))
  })
}

describe('building while an edge serves the output', () => {
  let dev: WranglerDev

  beforeAll(async () => {
    dev = await startWranglerDev()
  })

  afterAll(async () => {
    await dev?.stop({ removeState: true })
  })

  it('answers every request for the dashboard and the SDK with the whole file, and an unchanged build writes nothing', async () => {
    const served = new Map<string, Buffer>()
    for (const [path, bytes] of readTree(`${root}public/dashboard`)) served.set(`/dashboard/${path}`, bytes)
    for (const [path, bytes] of readTree(`${root}public/sdk`)) served.set(`/sdk/${path}`, bytes)
    expect(served.has('/dashboard/main.js') && served.has('/sdk/edgefleet.js')).toBe(true)
    const mtimes = () => [...served.keys()].map((url) => statSync(`${root}public${url}`).mtimeMs).join(',')
    const before = mtimes()

    // Builds one after another (the dashboard alone, then the whole SDK), while requests run.
    let building = true
    const builds = (async () => {
      const results = []
      for (const script of ['build-dashboard.mjs', 'build-dashboard.mjs', 'build-dashboard.mjs', 'build-sdk.mjs'])
        results.push(await build(script))
      building = false
      return results
    })()
    const wrong: string[] = []
    let requests = 0
    while (building) {
      for (const [url, bytes] of served) {
        const res = await fetch(`${dev.url}${url}`)
        const body = Buffer.from(await res.arrayBuffer())
        requests++
        if (res.status !== 200 || !body.equals(bytes))
          wrong.push(`${url}: ${res.status}, ${body.length} of ${bytes.length} bytes`)
      }
    }
    for (const { code, output } of await builds) expect(code, output).toBe(0)
    expect(wrong).toEqual([])
    // The requests overlapped the builds: more than one round of every file.
    expect(requests).toBeGreaterThan(served.size * 2)
    expect(mtimes()).toBe(before)
    // Give the watcher time to act on anything it saw: a reload would be logged.
    await new Promise((r) => setTimeout(r, 1500))
    expect(dev.output()).not.toContain('Reloading local server')
  })
})
