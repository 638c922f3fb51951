// The published SDK inside a customer's Vite app: the @edgefleet/client package packed with `npm pack`,
// installed from its tarball with `npm install` (offline: it depends on nothing), and
// `import { createFleet } from '@edgefleet/client'` from node_modules, bundled by `vite build` (and served by `vite` dev), on an origin other than the
// edge's. Bundlers mishandle `new Worker(new URL(...))` inside node_modules; the SDK carries its worker
// inlined, so the app needs no plugin and no config.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../helpers/browser.ts'
import { serveStatic, type StaticServer } from '../helpers/static-server.ts'
import { cli, createAppKey } from '../helpers/edge-seed.ts'
import { freePort, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js')
const weather = join(root, 'demo', 'models', 'weather')
const LABELS = ['drizzle', 'fog', 'rain', 'snow', 'sun']

const MAIN_JS = `import { createFleet } from '@edgefleet/client'

const params = new URLSearchParams(location.search)
const fleet = createFleet({ endpoint: params.get('endpoint'), appKey: params.get('key') })
try {
  const model = await fleet.load('weather', { backends: ['wasm'] })
  const r = await model.predict({ precipitation: 8.4, temp_max: 9.1, temp_min: 4.2, wind: 5.3 })
  window.result = { label: r.output.label, scores: r.output.scores, version: r.version, backend: r.backend }
} catch (e) {
  window.result = { error: (e.code ?? '') + ' ' + e.message }
}
document.body.dataset.state = 'done'
`

let dev: WranglerDev
let appKey: string
let app: string
let installed: ReturnType<typeof makeApp>
let browser: BrowserContext
const cleanup: (() => Promise<void> | void)[] = []

/** Runs a Node program to completion; rejects with its output on a non-zero exit or after `timeoutMs`. */
function run(args: string[], options: { cwd: string; timeoutMs?: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`${args.slice(0, 3).join(' ')} exited with ${code}:\n${out}`))
    })
  })
}

/** Runs npm to completion (offline, quiet); rejects with its output on failure. */
function npm(args: string[], cwd: string): string {
  const r = spawnSync('npm', [...args, '--offline', '--no-audit', '--no-fund'], { cwd, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`)
  return r.stdout
}

/** Bytes of every file under `dir`. */
function sizeOf(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((a, e) => a + statSync(join(e.parentPath, e.name)).size, 0)
}

/** A tiny Vite app that installed the packed @edgefleet/client tarball, as a customer would. */
function makeApp(): { dir: string; installed: string[]; bytes: number } {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-vite-'))
  const tarball = npm(['pack', '--ignore-scripts', '--pack-destination', dir], join(root, 'client'))
    .trim()
    .split('\n')
    .pop()!
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'customer-app', private: true, type: 'module' }))
  npm(['install', '--ignore-scripts', join(dir, tarball)], dir)
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html>\n<html><head><meta charset="utf-8" /><title>customer app</title></head>\n<body><script type="module" src="/main.js"></script></body></html>\n',
  )
  writeFileSync(join(dir, 'main.js'), MAIN_JS)
  const modules = join(dir, 'node_modules')
  const installed = readdirSync(modules)
    .filter((n) => !n.startsWith('.'))
    .flatMap((n) => (n.startsWith('@') ? readdirSync(join(modules, n)).map((m) => `${n}/${m}`) : [n]))
  return { dir, installed, bytes: sizeOf(modules) }
}

/** Opens the app at `origin` in Chromium and returns what main.js left in `window.result`. */
async function resultAt(origin: string): Promise<Record<string, unknown>> {
  const page = await browser.newPage()
  try {
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    await page.goto(`${origin}/?endpoint=${encodeURIComponent(dev.url)}&key=${encodeURIComponent(appKey)}`, {
      waitUntil: 'domcontentloaded',
      timeout: 90_000,
    })
    await page.locator('body[data-state="done"]').waitFor({ state: 'attached', timeout: 90_000 })
    expect(errors).toEqual([])
    return (await page.evaluate('window.result')) as Record<string, unknown>
  } finally {
    await page.close()
  }
}

function expectWeatherPrediction(result: Record<string, unknown>): void {
  expect(result.error, String(result.error)).toBeUndefined()
  expect(LABELS).toContain(result.label)
  expect(Object.keys(result.scores as object).sort()).toEqual(LABELS)
  expect(result).toMatchObject({ version: 1, backend: 'wasm' })
}

beforeAll(async () => {
  // Independent steps side by side: on a busy 2-core machine they add up to minutes otherwise.
  const profile = mkdtempSync(join(tmpdir(), 'edgefleet-vite-chromium-'))
  installed = makeApp()
  app = installed.dir
  cleanup.push(() => rmSync(app, { recursive: true, force: true }))
  const launching = launchChromium(profile).then((b) => {
    browser = b
    cleanup.push(() => rmSync(profile, { recursive: true, force: true }))
  })
  const building = run([vite, 'build', '--logLevel', 'warn'], { cwd: app, timeoutMs: 120_000 })
  const seeding = startWranglerDev({ timeoutMs: 120_000 }).then((d) => {
    dev = d
    cleanup.push(() => d.stop({ removeState: true }))
    return Promise.all([
      createAppKey(d, 'vite-app'),
      cli(d, ['runtime', 'push']),
      cli(d, [
        'publish',
        'weather',
        join(weather, 'model.onnx'),
        '--signature',
        join(weather, 'signature.json'),
        '--profile',
        join(weather, 'profile.json'),
        '--alias',
        'production',
      ]),
    ])
  })
  ;[[appKey]] = await Promise.all([seeding, launching, building])
  expect(appKey).toMatch(/^ef_/)
}, 300_000)

afterAll(async () => {
  // The browser first: its keep-alive connections would hold the static server's close() for a minute.
  await browser?.close()
  for (const step of cleanup.reverse()) await step()
})

describe('the SDK in a Vite app, cross-origin to the edge', () => {
  it('installing it brings only the SDK: no dependencies, its prebuilt modules and declarations', () => {
    expect(installed.installed).toEqual(['@edgefleet/client'])
    expect(installed.bytes).toBeLessThan(4 * 1024 * 1024)
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules/@edgefleet/client/package.json'), 'utf8'))
    expect(pkg.dependencies ?? {}).toEqual({})
  })

  it('`vite build` bundles it, and the built app loads weather from the edge and predicts', async () => {
    const assets = readdirSync(join(app, 'dist', 'assets'))
    const js = assets.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(app, 'dist', 'assets', f), 'utf8'))
    // Everything is bundled: no bare import of the package is left for the browser to resolve.
    expect(js.join('\n')).not.toMatch(/from\s*["']edgefleet/)
    const site: StaticServer = await serveStatic(join(app, 'dist'))
    cleanup.push(() => site.close())
    expect(new URL(site.url).origin).not.toBe(new URL(dev.url).origin)
    expectWeatherPrediction(await resultAt(site.url))
    expect(site.hits).toContain('/')
  }, 240_000)

  it('`vite` dev server pre-bundles it, and the app predicts the same', async () => {
    const port = await freePort()
    const server: ChildProcess = spawn(
      process.execPath,
      [vite, '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
      { cwd: app, env: { ...process.env, NO_COLOR: '1' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let log = ''
    server.stdout!.on('data', (d) => (log += d))
    server.stderr!.on('data', (d) => (log += d))
    cleanup.push(() => {
      if (server.exitCode === null && server.pid !== undefined) process.kill(-server.pid, 'SIGTERM')
    })
    const origin = `http://127.0.0.1:${port}`
    const deadline = Date.now() + 30_000
    for (;;) {
      if (server.exitCode !== null) throw new Error(`vite exited with ${server.exitCode}:\n${log}`)
      if (Date.now() > deadline) throw new Error(`vite dev did not answer on ${origin}:\n${log}`)
      const ok = await fetch(origin, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      )
      if (ok) break
      await new Promise((r) => setTimeout(r, 200))
    }
    expectWeatherPrediction(await resultAt(origin))
  }, 240_000)
})
