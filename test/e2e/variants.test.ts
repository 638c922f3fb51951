// Variants end to end: a real edge (wrangler dev), the real CLI and the built SDK in real Chromium.
// One version of Silero VAD holds three variants: `fp16` for WebGPU with shader-f16 (this machine's
// SwiftShader adapter is a fallback one, so no device here fits it), `broken` for any device that can
// run WASM (its file is not a model, so it fails to load), and `default`. The device is picked
// `broken`, falls back to `default` with the reason, remembers it across page loads, and the fleet view
// shows which variant it ended up on.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as ort from 'onnxruntime-web'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../helpers/browser.ts'
import { linearClassifier } from '../helpers/onnx-model.ts'
import { cli, createAppKey } from '../helpers/edge-seed.ts'
import { seededNormal, seededRandom } from '../../scripts/lib/random.ts'
import { serveStatic, type StaticServer } from '../helpers/static-server.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const SILERO = `${root}node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx`
const SILERO_LEGACY = `${root}node_modules/@ricky0123/vad-web/dist/silero_vad_legacy.onnx`

const audio = (() => {
  const normal = seededNormal(seededRandom(15))
  return Array.from({ length: 512 }, (_, i) => 0.1 * (Math.sin((2 * Math.PI * 220 * i) / 16000) + 0.5 * normal()))
})()

async function rawSilero(): Promise<number[]> {
  const session = await ort.InferenceSession.create(readFileSync(SILERO))
  const r = await session.run({
    input: new ort.Tensor('float32', Float32Array.from(audio), [1, 512]),
    state: new ort.Tensor('float32', new Float32Array(256), [2, 1, 128]),
    sr: new ort.Tensor('int64', BigInt64Array.of(16000n), []),
  })
  return Array.from(r.output.data as Float32Array)
}

interface Run {
  version: number
  backend: string
  output: number[]
  events: Record<string, unknown>[]
}

/** In the page: load `vad`, predict one chunk, flush telemetry. Only plain data crosses back. */
function runVad(page: Page, endpoint: string, appKey: string): Promise<Run> {
  return page.evaluate(
    async ({ endpoint, appKey, audio }) => {
      const { createFleet } = (globalThis as any).edgefleet
      const events: any[] = []
      const fleet = createFleet({ endpoint, appKey, onEvent: (e: any) => events.push({ ...e }) })
      const model = await fleet.load('vad')
      const r = await model.predict({
        input: { dtype: 'float32', dims: [1, 512], data: Float32Array.from(audio) },
        state: { dtype: 'float32', dims: [2, 1, 128], data: new Float32Array(256) },
        sr: { dtype: 'int64', dims: [], data: BigInt64Array.of(16000n) },
      })
      await fleet.flush()
      await fleet.close()
      return { version: r.version, backend: r.backend, output: Array.from(r.output.tensors.output.data), events }
    },
    { endpoint, appKey, audio },
  )
}

describe('variants chosen by device capability, in Chromium against a real edge', () => {
  let dev: WranglerDev
  let site: StaticServer
  let appKey: string
  let profileDir: string
  let dir: string
  let context: BrowserContext
  let sha: Record<string, string>

  beforeAll(async () => {
    dev = await startWranglerDev({ vars: { TELEMETRY_MIN_DEVICES: '1' } })
    await cli(dev, ['runtime', 'push'])
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-variants-'))
    copyFileSync(SILERO_LEGACY, join(dir, 'silero_fp16.onnx'))
    copyFileSync(SILERO, join(dir, 'silero.onnx'))
    // A well-formed ONNX file whose one operator no runtime implements: it parses, but never loads.
    const model = Buffer.from(linearClassifier([1, 2, 3, 4], [0.5], 4, false))
    const op = model.indexOf('Gemm')
    expect(op).toBeGreaterThan(0)
    model.write('Gemz', op)
    writeFileSync(join(dir, 'broken.onnx'), model)
    writeFileSync(
      join(dir, 'variants.json'),
      JSON.stringify([
        { name: 'fp16', files: ['silero_fp16.onnx'], requires: { webgpu: true, f16: true, backends: ['webgpu'] } },
        { name: 'broken', files: ['broken.onnx'], requires: { backends: ['wasm'] } },
        { name: 'default', files: ['silero.onnx'] },
      ]),
    )
    const manifest = JSON.parse(
      await cli(dev, [
        'publish',
        'vad',
        join(dir, 'silero_fp16.onnx'),
        join(dir, 'broken.onnx'),
        join(dir, 'silero.onnx'),
        '--variants',
        join(dir, 'variants.json'),
        '--alias',
        'production',
        '--json',
      ]),
    )
    expect(manifest.variants.map((v: { name: string }) => v.name)).toEqual(['fp16', 'broken', 'default'])
    sha = Object.fromEntries(manifest.files.map((f: { path: string; sha256: string }) => [f.path, f.sha256]))
    appKey = await createAppKey(dev)
    site = await serveStatic(`${root}test/e2e/pages/plain`, { mounts: { '/sdk/': `${root}dist/sdk` } })
    profileDir = mkdtempSync(join(tmpdir(), 'edgefleet-profile-'))
    context = await launchChromium(profileDir)
  }, 240_000)

  afterAll(async () => {
    await context?.close()
    await site?.close()
    await dev?.stop({ removeState: true })
    for (const d of [profileDir, dir]) if (d) rmSync(d, { recursive: true, force: true })
  })

  async function openPage(): Promise<{ page: Page; requests: string[] }> {
    const page = await context.newPage()
    const requests: string[] = []
    page.on('request', (r) => requests.push(r.url()))
    await page.goto(`${site.url}/index.html`)
    await page.waitForFunction(() => (globalThis as any).edgefleet !== undefined, undefined, { timeout: 60_000 })
    return { page, requests }
  }

  it('picks the first variant the device fits, falls back from one that fails to load, and says why', async () => {
    const { page, requests } = await openPage()
    const run = await runVad(page, dev.url, appKey)
    const fallback = run.events.find((e) => e.type === 'variant_fallback')
    expect(fallback).toMatchObject({
      model: 'vad',
      version: 1,
      from: 'broken',
      to: 'default',
      reason: 'backend_unavailable',
    })
    expect(run.events.find((e) => e.type === 'loaded')).toMatchObject({ version: 1, variant: 'default' })
    expect(run.backend).toBe('wasm')
    const oracle = await rawSilero()
    expect(Math.max(...run.output.map((x, i) => Math.abs(x - oracle[i])))).toBeLessThanOrEqual(1e-5)
    // Only the picked variants' files were fetched: never the fp16 build this device does not fit.
    const artifacts = requests.filter((u) => u.includes('/v1/artifacts/'))
    expect(artifacts.some((u) => u.endsWith(sha['broken.onnx']))).toBe(true)
    expect(artifacts.some((u) => u.endsWith(sha['silero.onnx']))).toBe(true)
    expect(artifacts.some((u) => u.endsWith(sha['silero_fp16.onnx']))).toBe(false)
    const assigns = requests.filter((u) => u.includes('/v1/assign/'))
    expect(assigns).toHaveLength(2)
    expect(assigns[1]).toContain('exclude=1%3Abroken')
    await page.close()
  })

  it('on the next page load asks for the working variant at once and downloads nothing', async () => {
    const { page, requests } = await openPage()
    const run = await runVad(page, dev.url, appKey)
    expect(run.events.some((e) => e.type === 'variant_fallback')).toBe(false)
    expect(run.events.find((e) => e.type === 'loaded')).toMatchObject({ variant: 'default', downloadedBytes: 0 })
    const assigns = requests.filter((u) => u.includes('/v1/assign/'))
    expect(assigns).toHaveLength(1)
    expect(assigns[0]).toContain('exclude=1%3Abroken')
    expect(requests.filter((u) => u.includes('/v1/artifacts/'))).toEqual([])
    await page.close()
  })

  it('shows in the fleet view which variant the device runs, with its metrics', async () => {
    const res = await fetch(`${dev.url}/v1/models/vad/telemetry?granularity=hour&slice=variant`, {
      headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
    })
    expect(res.status).toBe(200)
    const view = (await res.json()) as { slices: { dimension: string; cohorts: { slices: Record<string, unknown> }[] } }
    expect(view.slices.dimension).toBe('variant')
    const slices = view.slices.cohorts[0].slices
    expect(Object.keys(slices)).toEqual(['default'])
    expect(slices.default).toMatchObject({ suppressed: false, devices: 1, inferences: 2, errors: 0 })
  })
})
