/**
 * @module
 * `cold-start-cached`: a returning visitor. Silero VAD v5 and the ONNX runtime are already in IndexedDB
 * (a persistent Chromium profile; one first load downloads them), and a fresh page measures
 * `fleet.load('vad')` up to its first prediction, against, in another fresh page of the same profile,
 * creating an onnxruntime-web session from the model's bytes already in memory and running it once (the
 * same runtime build, files served locally). Rounds alternate which side goes first; each side gets a new
 * page, so both compile the runtime's wasm. Target ≤ 1.2. The edge is `wrangler dev`; the page is a plain
 * module page on another origin. Run with `npm run bench -- cold-start`.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { launchChromium } from '../test/helpers/browser.ts'
import { cli, createAppKey } from '../test/helpers/edge-seed.ts'
import { serveStatic } from '../test/helpers/static-server.ts'
import { startWranglerDev } from '../scripts/lib/wrangler-dev.ts'
import { root } from './edge-server.ts'
import { ratioRow, record } from './results.ts'

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const SILERO = join(root, 'node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx')

if (!existsSync(join(root, 'dist/sdk/edgefleet.js')))
  spawnSync(process.execPath, [join(root, 'scripts/build-sdk.mjs')], { stdio: 'inherit' })
const dev = await startWranglerDev()
const profileDir = mkdtempSync(join(tmpdir(), 'edgefleet-cold-start-'))
const site = await serveStatic(join(root, 'test/e2e/pages/plain'), {
  mounts: {
    '/sdk/': join(root, 'dist/sdk'),
    '/ort/': join(root, 'node_modules/onnxruntime-web/dist'),
    '/model/': join(root, 'node_modules/@ricky0123/vad-web/dist'),
  },
})
const context = await launchChromium(profileDir)
try {
  await cli(dev, ['runtime', 'push'])
  await cli(dev, ['publish', 'vad', SILERO, '--alias', 'production'])
  const appKey = await createAppKey(dev)

  const feeds = `{
    input: { dtype: 'float32', dims: [1, 512], data: new Float32Array(512).fill(0.01) },
    state: { dtype: 'float32', dims: [2, 1, 128], data: new Float32Array(256) },
    sr: { dtype: 'int64', dims: [], data: BigInt64Array.of(16000n) },
  }`
  /** In a fresh page: ms from fleet.load() to the first prediction's answer. */
  const sdk = async (): Promise<number> => {
    const page = await context.newPage()
    try {
      await page.goto(`${site.url}/index.html`)
      await page.waitForFunction(() => (globalThis as { edgefleet?: unknown }).edgefleet !== undefined)
      return await page.evaluate(
        `(async () => {
          const fleet = edgefleet.createFleet({ endpoint: ${JSON.stringify(dev.url)}, appKey: ${JSON.stringify(appKey)} })
          const t = performance.now()
          const model = await fleet.load('vad', { backends: ['wasm'] })
          await model.predict(${feeds})
          const ms = performance.now() - t
          await fleet.close()
          return ms
        })()`,
      )
    } finally {
      await page.close()
    }
  }
  /** In a fresh page: the model's bytes fetched first (untimed), then session create + one run. */
  const raw = async (): Promise<number> => {
    const page = await context.newPage()
    try {
      await page.goto(`${site.url}/index.html`)
      return await page.evaluate(
        `(async () => {
          const ort = await import('/ort/ort.wasm.min.mjs')
          ort.env.wasm.wasmPaths = '/ort/'
          const bytes = new Uint8Array(await (await fetch('/model/silero_vad_v5.onnx')).arrayBuffer())
          const f = ${feeds}
          const t = performance.now()
          const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] })
          const tensors = {}
          for (const [k, v] of Object.entries(f)) tensors[k] = new ort.Tensor(v.dtype, v.data, v.dims)
          await session.run(tensors)
          return performance.now() - t
        })()`,
      )
    } finally {
      await page.close()
    }
  }

  const first = await sdk() // downloads and caches model and runtime
  console.log(`first load (downloads): ${first.toFixed(0)} ms`)
  await raw() // warms the HTTP cache for the baseline's runtime files
  const sdkMs: number[] = []
  const rawMs: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      sdkMs.push(await sdk())
      rawMs.push(await raw())
    } else {
      rawMs.push(await raw())
      sdkMs.push(await sdk())
    }
    console.log(
      `round ${r + 1}: fleet.load → first prediction ${sdkMs[r]!.toFixed(0)} ms, raw create + run ${rawMs[r]!.toFixed(0)} ms`,
    )
  }
  record(
    ratioRow({
      name: 'cold-start-cached',
      unit: 'ms',
      values: sdkMs,
      baselines: rawMs,
      target: { atMost: 1.2 },
      note: 'Silero VAD v5 and the ORT wasm in IndexedDB (persistent profile), fresh page each; baseline: ort.InferenceSession.create from in-memory bytes + one run in a fresh page',
    }),
  )
} finally {
  await context.close()
  await site.close()
  await dev.stop({ removeState: true })
  rmSync(profileDir, { recursive: true, force: true })
}
