/**
 * Overhead of the inference worker's `predict` (Silero VAD v5, WASM, drift on) against raw
 * `session.run` inside a Worker plus a comlink echo of the same payload, measured side by side in one
 * Chromium page (test/browser/bench/overhead.page.ts), once without and once with cross-origin
 * isolation (without it Chromium coarsens timers to ~100 µs; blocks of 50 calls average that out).
 * Target: predict ≤ 1.05 × raw run + 1.5 × echo, judged on the cross-origin-isolated page (precise
 * timers). Run with `npm run bench -- predict`.
 */
import { chromium } from 'playwright-core'
import { createServer } from 'vite'
import { chromiumArgs, chromiumPath } from '../scripts/lib/chromium.ts'

const root = new URL('..', import.meta.url).pathname
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
}

let verdict: { ratio: number; q1: number; q3: number } | undefined
for (const isolated of [false, true]) {
  const server = await createServer({
    root,
    configFile: false,
    logLevel: 'error',
    server: { host: '127.0.0.1', port: 0, headers: isolated ? isolation : {} },
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
    const r = (await handle.jsonValue()) as Record<string, number | boolean | string>
    if ('error' in r) throw new Error(String(r.error))
    const us = (ms: unknown) => `${((ms as number) * 1000).toFixed(1)} µs`
    console.log(
      `crossOriginIsolated=${r.crossOriginIsolated} (${r.n} calls per figure in interleaved blocks of 50; medians of block means)`,
    )
    console.log(`  raw session.run in a Worker  ${us(r.rawRunMs)}`)
    console.log(`  comlink echo of the payload  ${us(r.echoMs)}`)
    console.log(`  predict, drift on            ${us(r.predictMs)}   (drift off: ${us(r.predictNoDriftMs)})`)
    console.log(
      `  raw run, one comlink call each ${us(r.rawOncePerCallMs)}   (engine time reported by predict: ${us(r.engineMsInPredict)})`,
    )
    const f = (x: unknown) => (x as number).toFixed(3)
    console.log(
      `  predict / (1.05·raw + 1.5·echo), per block: median ${f(r.ratioToBudget)} (quartiles ${f(r.ratioQ1)}-${f(r.ratioQ3)})`,
    )
    if (isolated) verdict = { ratio: r.ratioToBudget as number, q1: r.ratioQ1 as number, q3: r.ratioQ3 as number }
  } finally {
    await browser.close()
    await server.close()
  }
}

const pass = verdict !== undefined && verdict.ratio <= 1
console.log(
  `${pass ? 'PASS' : 'FAIL'} predict vs 1.05·raw run + 1.5·echo (isolated page): ratio ${verdict?.ratio.toFixed(3)} ${pass ? '≤' : '>'} 1`,
)
if (!pass) process.exitCode = 1
