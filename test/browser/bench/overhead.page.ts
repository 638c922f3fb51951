/**
 * The overhead benchmark's page (driven by bench/predict.bench.ts): Silero VAD v5 `predict` through
 * the inference worker, with drift on, against raw `session.run` through one comlink call each (the
 * floor of any worker SDK), raw `session.run` looped inside a Worker and a comlink echo of the same
 * payload, all in this one page, in interleaved blocks. Publishes its figures on `globalThis.__overhead`.
 */
import { wrap } from 'comlink'
import { buildProfile } from '../../../core/profile/build.ts'
import { sileroFeeds } from '../support/tensors.ts'
import { fetchBytes, runtimeAssets, startWorker } from '../support/worker-client.ts'
import type { RawOrtWorker } from './raw-ort-worker.ts'

const BLOCK = 50
const BLOCKS = 30

async function mean(n: number, call: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  for (let i = 0; i < n; i++) await call()
  return (performance.now() - start) / n
}

async function main(): Promise<Record<string, number | boolean | Record<string, number[]>>> {
  const silero = await fetchBytes('/node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx')
  const runtime = await runtimeAssets({ ortWasm: true })
  const feeds = sileroFeeds(1)
  const raw = wrap<RawOrtWorker>(new Worker(new URL('./raw-ort-worker.ts', import.meta.url), { type: 'module' }))
  await raw.init(silero.slice(0), runtime.ortWasm!.mjs.slice(0), runtime.ortWasm!.wasm.slice(0))
  const { api } = startWorker()
  const summaries = Array.from({ length: 200 }, (_, seed) => {
    const x = sileroFeeds(seed).input.data as Float32Array
    const m = x.reduce((a, b) => a + b, 0) / x.length
    return {
      'input.mean': m,
      'input.std': Math.sqrt(x.reduce((a, b) => a + (b - m) ** 2, 0) / x.length),
      'input.min': Math.min(...x),
      'input.max': Math.max(...x),
    }
  })
  const base = {
    model: 'vad',
    version: 1,
    role: 'primary' as const,
    format: 'onnx' as const,
    backends: ['wasm' as const],
    runtime,
  }
  await api.load({ ...base, key: 'vad', files: { 'model.onnx': silero.slice(0) }, profile: buildProfile(summaries) })
  await api.load({ ...base, key: 'vad-nodrift', files: { 'model.onnx': silero.slice(0) } })

  const contenders: [string, () => Promise<number>][] = [
    ['rawRunMs', () => raw.runLoop(BLOCK, feeds)],
    ['echoMs', () => mean(BLOCK, () => raw.echo(feeds))],
    ['predictMs', () => mean(BLOCK, () => api.predict('vad', feeds))],
    ['predictNoDriftMs', () => mean(BLOCK, () => api.predict('vad-nodrift', feeds))],
    ['rawOncePerCallMs', () => mean(BLOCK, () => raw.runOnce(feeds))],
    [
      'engineMsInPredict',
      async () => {
        let sum = 0
        for (let i = 0; i < BLOCK; i++) sum += (await api.predict('vad', feeds)).ms
        return sum / BLOCK
      },
    ],
  ]
  // predict and the raw call paired call by call (which goes first alternates), so a busy neighbour
  // lands on both sides of each pair alike: the ratio judged is sum(predict) / sum(raw) per block.
  const paired = async (): Promise<[number, number]> => {
    let predict = 0
    let raw1 = 0
    for (let i = 0; i < BLOCK; i++) {
      const order = i % 2 === 0 ? ['p', 'r'] : ['r', 'p']
      for (const side of order) {
        const start = performance.now()
        if (side === 'p') await api.predict('vad', feeds)
        else await raw.runOnce(feeds)
        const ms = performance.now() - start
        if (side === 'p') predict += ms
        else raw1 += ms
      }
    }
    return [predict / BLOCK, raw1 / BLOCK]
  }
  for (const [, run] of contenders) await run() // warm-up
  await paired()
  // Short blocks, interleaved: a busy neighbour slows the contenders of one block alike, so the
  // ratio is taken per block and the median over blocks reported (figures: medians of block means).
  const blocks: Record<string, number[]> = {}
  const ratios: number[] = []
  for (let b = 0; b < BLOCKS; b++) {
    const block: Record<string, number> = {}
    for (const [name, run] of contenders) (blocks[name] ??= []).push((block[name] = await run()))
    const [p, r] = await paired()
    ;(blocks.pairedPredictMs ??= []).push(p)
    ;(blocks.pairedRawMs ??= []).push(r)
    ratios.push(block.predictMs / (1.05 * block.rawRunMs + 1.5 * block.echoMs))
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]
  const quartiles = (xs: number[]) => {
    const s = [...xs].sort((x, y) => x - y)
    return [s[Math.floor(s.length / 4)], s[Math.floor((3 * s.length) / 4)]]
  }
  const figures: Record<string, number> = {}
  for (const [name, values] of Object.entries(blocks)) figures[name] = median(values)
  const [q1, q3] = quartiles(ratios)
  return {
    ...figures,
    ratioToBudget: median(ratios),
    ratioQ1: q1,
    ratioQ3: q3,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    n: BLOCK * BLOCKS,
    blocks,
  }
}

main().then(
  (result) => Object.assign(globalThis, { __overhead: result }),
  (e: unknown) => Object.assign(globalThis, { __overhead: { error: String(e) } }),
)
