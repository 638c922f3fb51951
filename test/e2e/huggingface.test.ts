/**
 * @module
 * A Hugging Face model folder end to end: `edgefleet publish` sends test/fixtures/hf-tiny-bert to a
 * real `wrangler dev`, and a page in real Chromium runs it with its own transformers.js
 * (`pipeline('text-classification', id)`) while edgefleet serves the files from its verified cache.
 * The scores equal those of transformers.js reading the same folder straight from a static server,
 * a rollout to v2 reaches the page on its next load, and after a browser restart, with the edge
 * stopped, the page loads and classifies from IndexedDB.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../helpers/browser.ts'
import { cli, createAppKey } from '../helpers/edge-seed.ts'
import { serveStatic, type StaticServer } from '../helpers/static-server.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const FIXTURE = `${root}test/fixtures/hf-tiny-bert`
const TRANSFORMERS = `${root}node_modules/@huggingface/transformers`
const probes: { text: string; fp32: number[] }[] = JSON.parse(readFileSync(`${FIXTURE}/expected.json`, 'utf8')).probes
const texts = probes.map((p) => p.text)

type Scores = Record<string, number>[]
interface HfRun {
  id: string
  version: number
  assignment: string
  downloadedBytes: number
  scores: Scores
  /** Whether a call with no text was refused by transformers.js (and counted as an error). */
  refusedNull: boolean
  events: { type: string; code?: string; version?: number; assignment?: string }[]
}

/** Where transformers.js's onnxruntime-web finds its wasm: the app's own copy, not a CDN. */
const wasmPaths = (site: string) => ({
  mjs: `${site}/ort/ort-wasm-simd-threaded.asyncify.mjs`,
  wasm: `${site}/ort/ort-wasm-simd-threaded.asyncify.wasm`,
})

/** In the page: edgefleet serves `hf-tiny-bert` to transformers.js, which classifies `texts`. */
function runThroughEdgefleet(page: Page, endpoint: string, appKey: string, site: string): Promise<HfRun> {
  return page.evaluate(
    async ({ endpoint, appKey, texts, wasm }) => {
      const { env, pipeline } = (globalThis as any).transformers
      const { createFleet } = (globalThis as any).edgefleet
      const events: any[] = []
      const fleet = createFleet({
        endpoint,
        appKey,
        onEvent: (e: any) => events.push({ type: e.type, code: e.code, version: e.version, assignment: e.assignment }),
      })
      const hf = await fleet.huggingFace('hf-tiny-bert', { env, dtype: 'fp32', wasmPaths: wasm })
      // The app's pipeline, counted by edgefleet (inferences, errors, latency) and otherwise untouched.
      const classify = hf.observe(await pipeline('text-classification', hf.id, { dtype: 'fp32', device: 'wasm' }))
      const scores = []
      for (const t of texts)
        scores.push(Object.fromEntries((await classify(t, { top_k: null })).map((s: any) => [s.label, s.score])))
      const refusedNull = await classify(null).then(
        () => false,
        () => true,
      )
      await fleet.flush().catch(() => undefined)
      const { observe: _observe, ...loaded } = hf
      return { ...loaded, scores, refusedNull, events }
    },
    { endpoint, appKey, texts, wasm: wasmPaths(site) },
  )
}

/** In the page: transformers.js alone, reading the fixture folder from the static server. */
function runDirect(page: Page, site: string): Promise<Scores> {
  return page.evaluate(
    async ({ site, texts, wasm }) => {
      const { env, pipeline } = (globalThis as any).transformers
      env.remoteHost = `${site}/direct/`
      env.useBrowserCache = false
      env.backends.onnx.wasm.wasmPaths = wasm
      const classify = await pipeline('text-classification', 'local/hf-tiny-bert', { dtype: 'fp32', device: 'wasm' })
      const scores = []
      for (const t of texts)
        scores.push(Object.fromEntries((await classify(t, { top_k: null })).map((s: any) => [s.label, s.score])))
      return scores
    },
    { site, texts, wasm: wasmPaths(site) },
  )
}

const RENAMED: Record<string, string> = { sun: 'sunny', rain: 'rainy', fog: 'foggy' }
const renamed = (scores: Scores): Scores =>
  scores.map((row) => Object.fromEntries(Object.entries(row).map(([l, v]) => [RENAMED[l], v])))

const maxDiff = (a: Scores, b: Scores) =>
  Math.max(...a.flatMap((row, i) => Object.keys(row).map((k) => Math.abs(row[k] - b[i][k]))))

describe('a Hugging Face folder through edgefleet into transformers.js', () => {
  let dev: WranglerDev
  let site: StaticServer
  let appKey: string
  let profileDir: string
  let context: BrowserContext
  let direct: Scores

  beforeAll(async () => {
    // One browser is the whole fleet here: its cohort must not be suppressed.
    dev = await startWranglerDev({ vars: { TELEMETRY_MIN_DEVICES: '1' } })
    await cli(dev, ['publish', 'hf-tiny-bert', FIXTURE, '--alias', 'production'])
    appKey = await createAppKey(dev)
    site = await serveStatic(`${root}test/e2e/pages/hf`, {
      mounts: {
        '/sdk/': `${root}dist/sdk`,
        '/transformers/': `${TRANSFORMERS}/dist`,
        '/ort/': `${TRANSFORMERS}/node_modules/onnxruntime-web/dist`,
        '/direct/local/hf-tiny-bert/resolve/main/': FIXTURE,
      },
    })
    profileDir = mkdtempSync(join(tmpdir(), 'edgefleet-hf-profile-'))
    context = await launchChromium(profileDir)
  }, 240_000)

  afterAll(async () => {
    await context?.close()
    await site?.close()
    await dev?.stop({ removeState: true })
    if (profileDir) rmSync(profileDir, { recursive: true, force: true })
  })

  async function openPage(): Promise<Page> {
    const page = await context.newPage()
    const problems: string[] = []
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
    await page.goto(`${site.url}/index.html`)
    try {
      await page.waitForFunction(() => (globalThis as any).edgefleet && (globalThis as any).transformers, undefined, {
        timeout: 60_000,
      })
    } catch (e) {
      throw new Error(`the page did not load: ${problems.join('; ') || 'no error reported'}`, { cause: e })
    }
    return page
  }

  it('publishes the folder as hf-onnx with its files by role and dtype', async () => {
    const res = await fetch(`${dev.url}/v1/models/hf-tiny-bert/versions/1`, {
      headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
    })
    const manifest = (await res.json()) as { format: string; files: { path: string; role: string; dtype?: string }[] }
    expect(manifest.format).toBe('hf-onnx')
    expect(manifest.files.map((f) => [f.path, f.role, f.dtype ?? null])).toEqual([
      ['config.json', 'config', null],
      ['onnx/model.onnx', 'onnx', 'fp32'],
      ['onnx/model_quantized.onnx', 'onnx', 'q8'],
      ['tokenizer.json', 'tokenizer', null],
      ['tokenizer_config.json', 'tokenizer-config', null],
    ])
  })

  it('classifies like transformers.js reading the same files directly', async () => {
    const plain = await openPage()
    direct = await runDirect(plain, site.url)
    await plain.close()
    // transformers.js itself reads the folder right: its scores are the softmax of onnxruntime's logits
    // on the fp32 graph in Python (expected.json, written by scripts/make-hf-fixture.py).
    const softmax = (z: number[]) => z.map((x) => Math.exp(x) / z.reduce((a, y) => a + Math.exp(y), 0))
    const labels: string[] = JSON.parse(readFileSync(`${FIXTURE}/expected.json`, 'utf8')).labels
    const reference = probes.map((p) => Object.fromEntries(softmax(p.fp32).map((s, i) => [labels[i], s])))
    expect(maxDiff(direct, reference)).toBeLessThanOrEqual(1e-5)

    const page = await openPage()
    const requests: string[] = []
    page.on('request', (r) => requests.push(r.url()))
    const run = await runThroughEdgefleet(page, dev.url, appKey, site.url)
    expect(run).toMatchObject({ id: 'edgefleet/hf-tiny-bert', version: 1, assignment: 'edge' })
    expect(run.downloadedBytes).toBe(
      ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']
        .map((f) => readFileSync(`${FIXTURE}/${f}`).length)
        .reduce((a, b) => a + b),
    )
    expect(maxDiff(run.scores, direct)).toBeLessThanOrEqual(1e-5)
    expect(run.events.filter((e) => e.type === 'loaded')).toEqual([{ type: 'loaded', version: 1, assignment: 'edge' }])
    // Nothing went to the hub, and the quantized graph (not asked for) was never fetched.
    expect(requests.filter((u) => u.includes('huggingface.co') || u.includes('jsdelivr'))).toEqual([])
    expect(requests.filter((u) => u.includes('/v1/artifacts/'))).toHaveLength(4)
    await page.close()

    // The fleet view counts the load and what the app's pipeline ran: every text, and the refused call.
    expect(run.refusedNull).toBe(true)
    await expect
      .poll(async () => {
        const res = await fetch(`${dev.url}/v1/models/hf-tiny-bert/telemetry?version=1`, {
          headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
        })
        const view = (await res.json()) as { cohorts: { version: number; total: Record<string, any> }[] }
        return view.cohorts.find((c) => c.version === 1)?.total ?? null
      })
      .toMatchObject({
        suppressed: false,
        devices: 1,
        loads: 1,
        inferences: texts.length + 1,
        errors: 1,
        backends: { wasm: { inferences: texts.length + 1, share: 1 } },
        latencyMs: { p50: expect.any(Number) },
      })
  })

  it('a rollout to v2 reaches the page on its next load, downloading only the file that changed', async () => {
    // v2 renames the labels: same graphs and tokenizer (stored once, by digest), a new config.json.
    const v2 = join(mkdtempSync(join(tmpdir(), 'edgefleet-hf-v2-')), 'hf-tiny-bert')
    cpSync(FIXTURE, v2, { recursive: true })
    const config = JSON.parse(readFileSync(`${v2}/config.json`, 'utf8'))
    config.id2label = Object.fromEntries(Object.entries(config.id2label).map(([i, l]) => [i, RENAMED[l as string]]))
    config.label2id = Object.fromEntries(Object.entries(config.label2id).map(([l, i]) => [RENAMED[l], i]))
    writeFileSync(`${v2}/config.json`, JSON.stringify(config, null, 2))
    await cli(dev, ['publish', 'hf-tiny-bert', v2])
    await cli(dev, ['rollout', 'start', 'hf-tiny-bert', '2', '--steps', '100'])
    rmSync(v2, { recursive: true, force: true })

    const page = await openPage()
    const run = await runThroughEdgefleet(page, dev.url, appKey, site.url)
    expect(run).toMatchObject({ version: 2, assignment: 'edge' })
    expect(run.downloadedBytes).toBe(Buffer.byteLength(JSON.stringify(config, null, 2)))
    expect(maxDiff(run.scores, renamed(direct))).toBeLessThanOrEqual(1e-5)
    await page.close()
  })

  it('after a browser restart, with the edge gone, serves the version from IndexedDB alone', async () => {
    await context.close()
    await dev.stop()
    context = await launchChromium(profileDir)
    const page = await openPage()
    const run = await runThroughEdgefleet(page, dev.url, appKey, site.url)
    expect(run).toMatchObject({ version: 2, assignment: 'cache', downloadedBytes: 0 })
    expect(run.events.some((e) => e.type === 'offline')).toBe(true)
    expect(maxDiff(run.scores, renamed(direct))).toBeLessThanOrEqual(1e-5)
    await page.close()
  })
})
