/**
 * @module
 * `predict-overhead`: the inference worker's `predict` (Silero VAD v5, WASM, drift on) against raw
 * `session.run` through one comlink call each (the same build and runtime files in a plain Worker:
 * the floor of any worker SDK), measured side by side in one cross-origin-isolated Chromium page
 * (test/browser/bench/overhead.page.ts; isolation gives precise timers) in 30 blocks of 50 pairs, the
 * two calls of a pair back to back in alternating order. Ratio: median over blocks of the block's
 * predict time ÷ its raw time; target ≤ 1.03. Also printed: raw run inside
 * the Worker (no messaging), a comlink echo of the payload, predict with drift off, and the engine time
 * predict reports. Run with `npm run bench -- predict`.
 */
import { chromium } from 'playwright-core'
import { createServer } from 'vite'
import { chromiumArgs, chromiumPath } from '../scripts/lib/chromium.ts'
import { ratioRow, record } from './results.ts'

const root = new URL('..', import.meta.url).pathname
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
}

const server = await createServer({
  root,
  configFile: false,
  logLevel: 'error',
  server: { host: '127.0.0.1', port: 0, headers: isolation },
})
await server.listen()
const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs })
try {
  const page = await browser.newPage()
  await page.goto(`${server.resolvedUrls!.local[0]}test/browser/bench/overhead.html`)
  const handle = await page.waitForFunction(() => (globalThis as { __overhead?: unknown }).__overhead, null, {
    timeout: 600_000,
    polling: 500,
  })
  const r = (await handle.jsonValue()) as Record<string, unknown> & { blocks: Record<string, number[]> }
  if ('error' in r) throw new Error(String(r.error))
  const us = (ms: unknown) => `${((ms as number) * 1000).toFixed(1)} µs`
  console.log(`crossOriginIsolated=${r.crossOriginIsolated} (${r.n} calls per figure in interleaved blocks of 50)`)
  console.log(`  raw run, one comlink call each ${us(r.rawOncePerCallMs)}`)
  console.log(`  predict, drift on              ${us(r.predictMs)}   (drift off: ${us(r.predictNoDriftMs)})`)
  console.log(
    `  raw session.run in the Worker  ${us(r.rawRunMs)}   (engine time reported by predict: ${us(r.engineMsInPredict)})`,
  )
  console.log(`  comlink echo of the payload    ${us(r.echoMs)}`)
  console.log(`  paired call by call: predict ${us(r.pairedPredictMs)}, raw ${us(r.pairedRawMs)}`)
  record(
    ratioRow({
      name: 'predict-overhead',
      unit: 'ms',
      values: r.blocks.pairedPredictMs!,
      baselines: r.blocks.pairedRawMs!,
      target: { atMost: 1.03 },
      note: `Silero VAD v5, WASM, drift on, cross-origin-isolated Chromium; predict and the raw call paired call by call; per-block ratios over ${r.blocks.pairedPredictMs!.length} blocks of 50 pairs; drift off ${us(r.predictNoDriftMs)}`,
    }),
  )
} finally {
  await browser.close()
  await server.close()
}
