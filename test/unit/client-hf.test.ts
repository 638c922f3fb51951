/**
 * @module
 * `fleet.huggingFace`'s loader over a real ModelCache (IndexedDB in Node through fake-indexeddb), the
 * edge's artifact answers stubbed at the network edge with the fixture's real files: what it serves to
 * transformers.js's `env`, what it refuses, and what it does offline.
 */
import 'fake-indexeddb/auto'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { Assignment } from '../../core/formats/assignment.ts'
import { withHfRoles } from '../../core/registry/hf-layout.ts'
import { ModelCache } from '../../client/cache.ts'
import { openDatabase } from '../../client/db.ts'
import { loadHuggingFace, type HuggingFaceDeps } from '../../client/hf/hugging-face.ts'
import type { TransformersEnv } from '../../client/hf/types.ts'
import type { FleetEvent } from '../../client/types.ts'
import { EdgefleetError } from '../../core/errors.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import type { TelemetryProcessor } from '../../client/telemetry/processor.ts'
import { WorkerlessCounter } from '../../client/telemetry/workerless-counter.ts'

const FIXTURE = new URL('../fixtures/hf-tiny-bert/', import.meta.url)
const PATHS = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'onnx/model_quantized.onnx']
const bytesOf = (path: string) => readFileSync(new URL(path, FIXTURE))
const EDGE = 'https://edge.test'
const files = withHfRoles(
  PATHS.map((path) => {
    const b = bytesOf(path)
    const sha256 = createHash('sha256').update(b).digest('hex')
    return { path, sha256, size: b.length, url: `${EDGE}/v1/artifacts/${sha256}` }
  }),
)
const assignment: Assignment = {
  model: 'tiny-bert',
  version: 3,
  role: 'primary',
  format: 'hf-onnx',
  files,
  telemetry: { sampleRate: 1, windowSeconds: 60, flushSeconds: 30 },
  ttlSeconds: 30,
}

/** The edge's artifact route, serving `bytes` per sha256 (a test may swap one for other bytes). */
function edgeFetch(requests: string[], swap: Record<string, Uint8Array> = {}): typeof fetch {
  return (async (input: string | URL | Request) => {
    const url = String(input)
    requests.push(url)
    const file = files.find((f) => f.url === url)
    if (!file) return new Response(null, { status: 404 })
    return new Response(new Uint8Array(swap[file.path] ?? bytesOf(file.path)))
  }) as typeof fetch
}

function transformersEnv(): TransformersEnv & { appFetched: string[] } {
  const appFetched: string[] = []
  return {
    appFetched,
    remoteHost: 'https://huggingface.co/',
    remotePathTemplate: '{model}/resolve/{revision}/',
    allowRemoteModels: true,
    useCustomCache: false,
    customCache: null,
    fetch: async (input) => {
      appFetched.push(String(input))
      return new Response('from the app', { status: 200 })
    },
    backends: { onnx: {} },
  }
}

async function setup(options: { offline?: boolean; swap?: Record<string, Uint8Array> } = {}) {
  const cache = new ModelCache(await openDatabase(`hf-${Math.random()}`))
  const requests: string[] = []
  const events: FleetEvent[] = []
  const deps: HuggingFaceDeps = {
    cache: async () => cache,
    ask: async () => {
      if (options.offline) throw new EdgefleetError('network_error', 'the edge is unreachable')
      return { status: 'changed', assignment: structuredClone(assignment), etag: '"v3"' }
    },
    appKey: 'ef_test',
    fetch: edgeFetch(requests, options.swap),
    emit: (e) => events.push(e),
    telemetry: async () => null,
    counterFor: () => {
      throw new Error('no telemetry: nothing is counted')
    },
  }
  return { cache, requests, events, deps }
}

const PREFIX = 'https://huggingface.co/edgefleet/tiny-bert/resolve/main/'

describe('fleet.huggingFace serves a verified version to transformers.js', () => {
  it("answers transformers.js's requests for the version's files from the cache, and 404s files it does not hold", async () => {
    const { deps, requests } = await setup()
    const env = transformersEnv()
    const hf = await loadHuggingFace(deps, 'tiny-bert', { env, dtype: 'fp32', wasmPaths: '/ort/' })
    expect(hf).toMatchObject({ id: 'edgefleet/tiny-bert', version: 3, assignment: 'edge' })
    expect(hf.files.sort()).toEqual(['config.json', 'onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json'])
    // The q8 graph was not asked for: never downloaded.
    expect(requests).toHaveLength(4)
    expect(env.useCustomCache).toBe(true)
    expect(env.backends.onnx.wasm?.wasmPaths).toBe('/ort/')
    const cache = env.customCache as { match(u: string): Promise<Response | undefined> }
    const served = await cache.match(`${PREFIX}onnx/model.onnx`)
    expect(Buffer.from(await served!.arrayBuffer()).equals(bytesOf('onnx/model.onnx'))).toBe(true)
    expect(served!.headers.get('content-length')).toBe(String(bytesOf('onnx/model.onnx').length))
    expect(await cache.match(`${PREFIX}generation_config.json`)).toBeUndefined()
    expect((await env.fetch(`${PREFIX}generation_config.json`)).status).toBe(404)
    // Requests that are not edgefleet's still go where the app sent them.
    expect(await (await env.fetch('https://huggingface.co/Xenova/bert/resolve/main/config.json')).text()).toBe(
      'from the app',
    )
    expect(env.appFetched).toEqual(['https://huggingface.co/Xenova/bert/resolve/main/config.json'])
  })

  it('refuses a file whose bytes are not the ones published, storing nothing and leaving env alone', async () => {
    const { deps, cache } = await setup({ swap: { 'tokenizer.json': new TextEncoder().encode('{"tampered": true}') } })
    const env = transformersEnv()
    await expect(loadHuggingFace(deps, 'tiny-bert', { env })).rejects.toMatchObject({ code: 'integrity_error' })
    expect(env.useCustomCache).toBe(false)
    expect(await cache.getModel('tiny-bert')).toBeUndefined()
  })

  it('offline, serves the version it ran last from IndexedDB without a request', async () => {
    const { deps, cache, events } = await setup()
    await loadHuggingFace(deps, 'tiny-bert', { env: transformersEnv() })
    const offline = await setup({ offline: true })
    const again = await loadHuggingFace({ ...offline.deps, cache: async () => cache }, 'tiny-bert', {
      env: transformersEnv(),
    })
    expect(again).toMatchObject({ version: 3, assignment: 'cache', downloadedBytes: 0 })
    expect(offline.requests).toEqual([])
    expect(offline.events.map((e) => e.type)).toEqual(['offline', 'loaded'])
    expect(events.map((e) => e.type)).toEqual(['loaded'])
  })

  it("refuses an env that is not transformers.js's and a model of another format", async () => {
    const { deps } = await setup()
    await expect(loadHuggingFace(deps, 'tiny-bert', { env: {} as TransformersEnv })).rejects.toMatchObject({
      code: 'bad_request',
      pointer: '/env',
    })
    const onnx = {
      ...deps,
      ask: async () => ({ status: 'changed' as const, assignment: { ...assignment, format: 'onnx' as const } }),
    }
    await expect(loadHuggingFace(onnx, 'tiny-bert', { env: transformersEnv() })).rejects.toMatchObject({
      code: 'bad_request',
    })
  })
})

/** A telemetry processor that records what is tracked; `sampled: false` leaves the device out. */
function recordingTelemetry(sampled = true) {
  const tracked: { key: string; target: unknown }[] = []
  const loads: string[] = []
  const processor = {
    track: (key: string, target: unknown) => (sampled ? (tracked.push({ key, target }), true) : false),
    noteLoad: (key: string) => loads.push(key),
  } as unknown as TelemetryProcessor
  return { processor, tracked, loads }
}

/** A stand-in for a transformers.js pipeline: a function with properties, as transformers.js's `Callable` is. */
function fakePipeline() {
  const calls: unknown[][] = []
  const run = async (...args: unknown[]) => {
    calls.push(args)
    if (args[0] === 'boom') throw new Error('the tokenizer failed')
    return Array.isArray(args[0]) ? args[0].map(() => ({ label: 'sun', score: 0.9 })) : { label: 'sun', score: 0.9 }
  }
  return Object.assign(run, { task: 'text-classification', dispose: async () => 'disposed', calls })
}

describe('HuggingFaceModel.observe counts the app pipeline in telemetry', () => {
  it('counts inputs, failures and call times under the version, leaving calls and properties as they are', async () => {
    const { deps } = await setup()
    const { processor, tracked, loads } = recordingTelemetry()
    const counters = new Map<string, WorkerlessCounter>()
    const hf = await loadHuggingFace(
      {
        ...deps,
        telemetry: async () => processor,
        counterFor: (key) => counters.get(key) ?? counters.set(key, new WorkerlessCounter(1_000)).get(key)!,
      },
      'tiny-bert',
      { env: transformersEnv() },
    )
    expect(tracked.map((t) => t.key)).toEqual(['tiny-bert@3#hf'])
    expect(loads).toEqual(['tiny-bert@3#hf'])

    const pipe = fakePipeline()
    const classify = hf.observe(pipe)
    expect(await classify('a sunny day', { top_k: null })).toEqual({ label: 'sun', score: 0.9 })
    expect(await classify(['one', 'two', 'three'])).toHaveLength(3)
    await expect(classify('boom')).rejects.toThrow('the tokenizer failed')
    expect(pipe.calls).toEqual([['a sunny day', { top_k: null }], [['one', 'two', 'three']], ['boom']])
    expect(classify.task).toBe('text-classification')
    expect(await classify.dispose()).toBe('disposed')

    const delta = counters.get('tiny-bert@3#hf')!.take('tiny-bert@3#hf', 5_000)
    expect(delta).toMatchObject({
      key: 'tiny-bert@3#hf',
      window: { start: 1_000, end: 5_000 },
      inferences: 5,
      errors: 1,
    })
    expect(delta.features).toEqual({})
    // One latency sample per call that answered, none for the failed one.
    expect(DDSketch.fromValid(delta.latency).count).toBe(2)
    expect(counters.get('tiny-bert@3#hf')!.take('tiny-bert@3#hf', 9_000)).toMatchObject({
      window: { start: 5_000, end: 9_000 },
      inferences: 0,
      errors: 0,
    })
  })

  it('counts a call that throws before it returns a promise, and rethrows it', async () => {
    const { deps } = await setup()
    const { processor } = recordingTelemetry()
    const counter = new WorkerlessCounter(0)
    const hf = await loadHuggingFace(
      { ...deps, telemetry: async () => processor, counterFor: () => counter },
      'tiny-bert',
      {
        env: transformersEnv(),
      },
    )
    const sync = hf.observe((() => {
      throw new TypeError('not a string')
    }) as unknown as (text: string) => Promise<unknown>)
    expect(() => sync('x')).toThrow('not a string')
    expect(counter.take('k', 1)).toMatchObject({ inferences: 1, errors: 1 })
  })

  it('counts nothing on a device sampling leaves out, and refuses what is not a function', async () => {
    const { deps } = await setup()
    const { processor, loads } = recordingTelemetry(false)
    const hf = await loadHuggingFace({ ...deps, telemetry: async () => processor }, 'tiny-bert', {
      env: transformersEnv(),
    })
    expect(loads).toEqual([])
    // counterFor throws in setup(): the pipeline still runs, counted by no one.
    expect(await hf.observe(fakePipeline())('a')).toEqual({ label: 'sun', score: 0.9 })
    expect(() => hf.observe('pipeline' as unknown as () => Promise<unknown>)).toThrow(
      expect.objectContaining({ code: 'bad_request', pointer: '/run' }),
    )
  })
})
