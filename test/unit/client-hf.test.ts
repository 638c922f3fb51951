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
    collectWithoutWorker: () => undefined,
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
