/**
 * @module
 * Large models end to end, against a real `wrangler dev` and a real Chromium: a model whose weights live
 * in an external-data file (`.onnx_data`) is published by the real CLI with a multipart upload (resuming
 * one an earlier run left), loaded by the SDK from its verified cache and run by onnxruntime-web through
 * its `externalData` option with the same outputs as the same model with inline weights; the whole
 * version's download (runtime included) is one progress stream whose total is known before the first
 * byte; and a version the storage estimate says cannot fit fails with `quota_exceeded` before a byte of
 * it is fetched.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as ort from 'onnxruntime-web'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RUNTIME_FILES } from '../../core/runtime-files.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'
import { launchChromium } from '../helpers/browser.ts'
import { cli, createAppKey } from '../helpers/edge-seed.ts'
import { onnxModel, onnxModelWithExternalData, type GraphSpec } from '../helpers/onnx-model.ts'
import { serveStatic, type StaticServer } from '../helpers/static-server.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const PART = 5 * 1024 * 1024
const WIDTH = 256
const CLASSES = 16_384
const DATA = 'linear.onnx_data'

/** A linear layer `x·W + b` with 16 MiB of seeded weights: logits [1, 16384] for x [1, 256]. */
function linearGraph(): GraphSpec {
  const rand = seededRandom(1515)
  const W = Float32Array.from({ length: WIDTH * CLASSES }, () => rand() * 2 - 1)
  const b = Float32Array.from({ length: CLASSES }, () => rand() - 0.5)
  return {
    inputs: [{ name: 'x', dtype: 'float32', dims: [1, WIDTH] }],
    outputs: [{ name: 'logits', dtype: 'float32', dims: [1, CLASSES] }],
    nodes: [{ op: 'Gemm', inputs: ['x', 'W', 'b'], outputs: ['logits'] }],
    initializers: [
      { name: 'W', dims: [WIDTH, CLASSES], values: W },
      { name: 'b', dims: [CLASSES], values: b },
    ],
  }
}

const input = Array.from({ length: WIDTH }, (_, i) => Math.sin(i / 7))
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

interface Run {
  status: number | null
  stdout: string
  stderr: string
}

/** Runs the real CLI as a child process, as a user would. */
function edgefleet(dev: WranglerDev, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, EDGEFLEET_URL: dev.url, EDGEFLEET_TOKEN: E2E_ADMIN_TOKEN, NO_COLOR: '1' }
    const child = spawn(process.execPath, [join(root, 'bin', 'edgefleet.js'), ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  })
}

interface PageLoad {
  logits?: number[]
  code?: string
  message?: string
  /** Progress events and artifact fetches, in the order they happened. */
  log: (['progress', number, number] | ['fetch', string])[]
}

/** In the page: a fleet, the model loaded (with the storage estimate replaced when given), one prediction. */
function loadAndPredict(page: Page, o: { endpoint: string; appKey: string; model: string; quota?: number }) {
  return page.evaluate(
    async ({ endpoint, appKey, model, quota, input }): Promise<PageLoad> => {
      const log: PageLoad['log'] = []
      const realFetch = globalThis.fetch
      globalThis.fetch = (req: any, init?: RequestInit) => {
        const url = String(req instanceof Request ? req.url : req)
        if (url.includes('/v1/artifacts/')) log.push(['fetch', url])
        return realFetch(req, init)
      }
      if (quota !== undefined)
        Object.defineProperty((globalThis as any).navigator.storage, 'estimate', {
          value: async () => ({ usage: 0, quota }),
          configurable: true,
          writable: true,
        })
      const fleet = (globalThis as any).edgefleet.createFleet({ endpoint, appKey, telemetry: false })
      try {
        const m = await fleet.load(model, {
          onProgress: (p: { loaded: number; total: number }) => log.push(['progress', p.loaded, p.total]),
        })
        const r = await m.predict({ x: { dtype: 'float32', dims: [1, input.length], data: Float32Array.from(input) } })
        return { logits: Array.from(r.output.tensors.logits.data as Float32Array), log }
      } catch (e: any) {
        return { code: e.code, message: e.message, log }
      } finally {
        await fleet.close()
        globalThis.fetch = realFetch
      }
    },
    { ...o, input },
  )
}

describe('large models', () => {
  let dev: WranglerDev
  let site: StaticServer
  let appKey: string
  const dirs: string[] = []
  const contexts: BrowserContext[] = []
  const graph = linearGraph()
  const inline = onnxModel(graph)
  const external = onnxModelWithExternalData(graph, DATA)
  let work: string
  let extManifest: { files: { path: string; sha256: string; size: number }[] }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'edgefleet-large-'))
    dirs.push(work)
    mkdirSync(join(work, 'inline'))
    mkdirSync(join(work, 'ext'))
    writeFileSync(join(work, 'inline', 'linear.onnx'), inline)
    writeFileSync(join(work, 'ext', 'linear.onnx'), external.model)
    writeFileSync(join(work, 'ext', DATA), external.data)
    dev = await startWranglerDev()
    await cli(dev, ['runtime', 'push'])
    await cli(dev, ['publish', 'inline', join(work, 'inline', 'linear.onnx'), '--alias', 'production'])
    appKey = await createAppKey(dev)
    site = await serveStatic(`${root}test/e2e/pages/plain`, { mounts: { '/sdk/': `${root}dist/sdk` } })
  }, 300_000)

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined)
    await site?.close()
    await dev?.stop({ removeState: true })
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  async function freshPage(): Promise<Page> {
    const dir = mkdtempSync(join(tmpdir(), 'edgefleet-profile-'))
    dirs.push(dir)
    const context = await launchChromium(dir)
    contexts.push(context)
    const page = await context.newPage()
    await page.goto(`${site.url}/index.html`)
    await page.waitForFunction(() => (globalThis as any).edgefleet !== undefined, undefined, { timeout: 60_000 })
    return page
  }

  it('the generated external-data model is the inline model: same outputs in onnxruntime-web for Node', async () => {
    const feeds = { x: new ort.Tensor('float32', Float32Array.from(input), [1, WIDTH]) }
    const a = await (await ort.InferenceSession.create(inline)).run(feeds)
    const b = await (
      await ort.InferenceSession.create(external.model, { externalData: [{ path: DATA, data: external.data }] })
    ).run(feeds)
    expect(external.model.length).toBeLessThan(1000)
    expect(Array.from(b.logits.data as Float32Array)).toEqual(Array.from(a.logits.data as Float32Array))
  })

  it('the CLI uploads the weights file in parts, resuming the upload an earlier run left', async () => {
    const hash = sha256(external.data)
    const headers = { Authorization: `Bearer ${E2E_ADMIN_TOKEN}`, 'Content-Type': 'application/json' }
    // An earlier run that stopped after sending part 2.
    const started = await fetch(`${dev.url}/v1/artifacts/${hash}/uploads`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ size: external.data.length, partBytes: PART }),
    })
    expect(started.status).toBe(201)
    const upload = (await started.json()) as { uploadId: string; partCount: number }
    expect(upload.partCount).toBe(Math.ceil(external.data.length / PART))
    const part2 = external.data.subarray(PART, 2 * PART)
    const sent = await fetch(`${dev.url}/v1/artifacts/${hash}/uploads/${encodeURIComponent(upload.uploadId)}/parts/2`, {
      method: 'PUT',
      headers: { ...headers, 'Content-Type': 'application/octet-stream' },
      body: part2,
    })
    expect(sent.status).toBe(200)

    const run = await edgefleet(dev, [
      'publish',
      'ext',
      join(work, 'ext', 'linear.onnx'),
      join(work, 'ext', DATA),
      '--multipart-above',
      String(6 * 1024 * 1024),
      '--part-size',
      String(PART),
      '--alias',
      'production',
      '--json',
    ])
    expect(run.status, run.stderr).toBe(0)
    expect(run.stderr).toContain(`resumed         ${DATA}: 1 of ${upload.partCount} parts were on the edge`)
    extManifest = JSON.parse(run.stdout)
    expect(extManifest.files.map((f) => [f.path, f.size])).toEqual([
      ['linear.onnx', external.model.length],
      [DATA, external.data.length],
    ])
    const back = await fetch(`${dev.url}/v1/artifacts/${hash}`, { headers })
    expect(sha256(new Uint8Array(await back.arrayBuffer()))).toBe(hash)
    // Publishing again finds every file stored and uploads nothing.
    const again = await edgefleet(dev, ['publish', 'ext', join(work, 'ext', 'linear.onnx'), join(work, 'ext', DATA)])
    expect(again.status, again.stderr).toBe(0)
    expect(again.stdout).toContain('0 uploaded, 2 already stored')
  }, 180_000)

  it('loads the external-data model from the verified cache, predicting exactly as the inline one, with one progress stream', async () => {
    expect(extManifest, 'needs the published ext model').toBeDefined()
    const page = await freshPage()
    const ext = await loadAndPredict(page, { endpoint: dev.url, appKey, model: 'ext' })
    expect(ext.code, ext.message).toBeUndefined()
    const inl = await loadAndPredict(page, { endpoint: dev.url, appKey, model: 'inline' })
    expect(inl.code, inl.message).toBeUndefined()
    expect(ext.logits).toHaveLength(CLASSES)
    expect(ext.logits).toEqual(inl.logits)

    // The total is the model's files and the WASM runtime, fixed at the first event, before any fetch.
    const runtime = RUNTIME_FILES.ortWasm.mjs.size + RUNTIME_FILES.ortWasm.wasm.size
    const total = extManifest.files.reduce((a, f) => a + f.size, 0) + runtime
    expect(ext.log[0]).toEqual(['progress', 0, total])
    const events = ext.log.filter((e) => e[0] === 'progress') as ['progress', number, number][]
    expect(events.every((e) => e[2] === total)).toBe(true)
    expect(events.at(-1)![1]).toBe(total)
    expect(events.every((e, i) => i === 0 || e[1] >= events[i - 1][1])).toBe(true)
    expect(ext.log.filter((e) => e[0] === 'fetch')).toHaveLength(4)
    // The second model shares the runtime: its total is its own file alone.
    const second = inl.log.filter((e) => e[0] === 'progress') as ['progress', number, number][]
    expect(second[0]).toEqual(['progress', 0, inline.length])
    expect(second.at(-1)![1]).toBe(inline.length)
  }, 180_000)

  it('refuses a version the storage estimate cannot hold with quota_exceeded, before fetching a byte', async () => {
    expect(extManifest, 'needs the published ext model').toBeDefined()
    const page = await freshPage()
    const requests: string[] = []
    page.on('request', (r) => r.url().includes('/v1/artifacts/') && requests.push(r.url()))
    const refused = await loadAndPredict(page, { endpoint: dev.url, appKey, model: 'ext', quota: 20_000_000 })
    expect(refused.code).toBe('quota_exceeded')
    expect(refused.message).toContain('nothing was downloaded')
    expect(refused.log).toEqual([])
    expect(requests).toEqual([])
    // With room enough, the same page loads it.
    const loaded = await loadAndPredict(page, { endpoint: dev.url, appKey, model: 'ext', quota: 200_000_000 })
    expect(loaded.code, loaded.message).toBeUndefined()
    expect(loaded.logits).toHaveLength(CLASSES)
  }, 180_000)
})
