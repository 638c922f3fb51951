import type { Remote } from 'comlink'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { LoadRequest, ModelOutput, RuntimeAssets, TensorData, WorkerApi } from '../../worker/protocol.ts'
import { maxAbsDiff, sileroFeeds } from './support/tensors.ts'
import { fetchBytes, runtimeAssets, startWorker } from './support/worker-client.ts'

const SILERO = '/node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx'
const SILERO_LEGACY = '/node_modules/@ricky0123/vad-web/dist/silero_vad_legacy.onnx'

let api: Remote<WorkerApi>
let worker: Worker
let runtime: RuntimeAssets
let silero: ArrayBuffer

const tensors = (o: ModelOutput): Record<string, TensorData> => {
  if (o.kind !== 'tensors') throw new Error(o.kind)
  return o.tensors
}
const request = (key: string, bytes: ArrayBuffer, extra: Partial<LoadRequest> = {}): LoadRequest => ({
  key,
  model: 'vad',
  version: 1,
  role: 'primary',
  format: 'onnx',
  files: { 'model.onnx': bytes.slice(0) },
  runtime,
  backends: ['wasm'],
  ...extra,
})

beforeAll(async () => {
  ;({ api, worker } = startWorker())
  ;[runtime, silero] = await Promise.all([runtimeAssets({ ortWasm: true }), fetchBytes(SILERO)])
  await api.load(request('vad', silero))
}, 120_000)

afterAll(() => worker.terminate())

describe('shadow runs of a tensor model in the worker', () => {
  test('a shadow identical to the primary agrees on every run, though the page owns the answers', async () => {
    await api.load(request('vad-same', silero, { version: 2, role: 'shadow' }))
    const feeds = [0, 1, 2, 3].map((seed) => sileroFeeds(200 + seed))
    const one = await api.predict('vad', feeds[0], { key: 'vad-same' })
    const batch = await api.predictBatch('vad', feeds.slice(1), { key: 'vad-same', rows: [0, 2, 7] })
    // The page owns the primary's buffers (copied when small, transferred when large), and they hold the real output.
    expect(tensors(one.output).output.data.length).toBe(1)
    expect(batch).toHaveLength(3)
    await api.settle()
    const delta = await api.collect('vad-same')
    expect(delta.shadow).toEqual({ compared: 3, agreed: 3, absDiffSum: 0, dropped: 0 })
    expect(delta.inferences).toBe(3)
    // The primary's own counters do not see the shadow's runs, nor carry shadow statistics.
    const primary = await api.collect('vad')
    expect(primary.inferences).toBe(4)
    expect(primary.shadow).toBeUndefined()
  }, 60_000)

  test('a candidate that cannot run the input (Silero legacy: other inputs) counts its error; the answer is the same', async () => {
    await api.load(
      request('vad-legacy', await fetchBytes(SILERO_LEGACY), { version: 3, role: 'shadow', shadowTolerance: 0.05 }),
    )
    const withShadow = tensors((await api.predict('vad', sileroFeeds(300), { key: 'vad-legacy' })).output)
    await api.settle()
    const alone = tensors((await api.predict('vad', sileroFeeds(300))).output)
    expect(maxAbsDiff(withShadow.output, alone.output)).toBe(0)
    expect(maxAbsDiff(withShadow.stateN, alone.stateN)).toBe(0)
    expect(await api.collect('vad-legacy')).toMatchObject({
      inferences: 1,
      errors: 1,
      shadow: { compared: 0, agreed: 0, absDiffSum: 0, dropped: 0 },
    })
  }, 60_000)

  test('a shadow key that is not (or no longer) loaded as a shadow is ignored: the primary answers as always', async () => {
    const answer = await api.predict('vad', sileroFeeds(400), { key: 'nope' })
    expect(tensors(answer.output).output.dims).toEqual([1, 1])
    await api.unload('vad-same')
    expect(tensors((await api.predict('vad', sileroFeeds(401), { key: 'vad-same' })).output).output.dims).toEqual([
      1, 1,
    ])
    await api.settle()
    await expect(api.collect('vad-same')).rejects.toMatchObject({ code: 'not_found' })
  }, 60_000)
})
