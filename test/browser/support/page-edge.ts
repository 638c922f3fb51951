import type { Assignment, ManifestFile } from '../../../core/formats/assignment.ts'
import { Batch } from '../../../core/formats/telemetry.ts'
import { allRuntimeFiles } from '../../../core/runtime-files.ts'
import { toHex } from '../../../core/hex.ts'
import { fetchBytes } from './worker-client.ts'

/**
 * An in-page stand-in for the edge's device routes, handed to `createFleet({fetch})`: the only mock
 * of the SDK's browser tests, at the network boundary. It answers `GET /v1/assign/:model` from the
 * assignments set here (with an ETag and 304s), serves artifacts by SHA-256 (model files added
 * here; the pinned runtime files from node_modules), and keeps every telemetry batch it receives.
 */
export class PageEdge {
  readonly origin = 'https://edge.test'
  readonly assignments = new Map<string, Assignment>()
  /** An answer that depends on the request (e.g. its `exclude`); `undefined` falls back to `assignments`. */
  assignFor?: (model: string, query: URLSearchParams) => Assignment | undefined
  readonly batches: Batch[] = []
  readonly #artifacts = new Map<string, ArrayBuffer>()
  readonly #runtime = new Map(allRuntimeFiles().map((f) => [f.sha256, `/node_modules/${f.path}`]))

  /** Stores model files and returns them as an assignment lists them. */
  async addFiles(files: Record<string, ArrayBuffer | Uint8Array>): Promise<ManifestFile[]> {
    const out: ManifestFile[] = []
    for (const [path, data] of Object.entries(files)) {
      const bytes = data instanceof Uint8Array ? data.slice().buffer : data.slice(0)
      const sha256 = toHex(await crypto.subtle.digest('SHA-256', bytes))
      this.#artifacts.set(sha256, bytes)
      out.push({ path, sha256, size: bytes.byteLength, url: `${this.origin}/v1/artifacts/${sha256}` })
    }
    return out
  }

  /** Every report received, across batches. */
  reports(): Batch['reports'] {
    return this.batches.flatMap((b) => b.reports)
  }

  readonly fetch: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    const headers = new Headers(init?.headers)
    if (headers.get('X-Edgefleet-Key') === null && url.searchParams.get('key') === null)
      return json({ error: { code: 'unauthorized', message: 'no key' } }, 401)
    let m = /^\/v1\/assign\/([^/]+)$/.exec(url.pathname)
    if (m) {
      const name = decodeURIComponent(m[1])
      const a = this.assignFor?.(name, url.searchParams) ?? this.assignments.get(name)
      if (!a) return json({ error: { code: 'not_found', message: 'no such model' } }, 404)
      const etag = `"${toHex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(a)))).slice(0, 16)}"`
      if (headers.get('If-None-Match') === etag) return new Response(null, { status: 304, headers: { ETag: etag } })
      return json(a, 200, { ETag: etag })
    }
    m = /^\/v1\/artifacts\/([0-9a-f]{64})$/.exec(url.pathname)
    if (m) {
      const bytes =
        this.#artifacts.get(m[1]) ??
        (this.#runtime.has(m[1]) ? await runtimeBytes(this.#runtime.get(m[1])!) : undefined)
      return bytes ? new Response(bytes.slice(0)) : json({ error: { code: 'not_found', message: 'no artifact' } }, 404)
    }
    if (url.pathname === '/v1/telemetry' && init?.method === 'POST') {
      let body = new Response(init.body)
      if (headers.get('Content-Encoding') === 'gzip' || url.searchParams.get('encoding') === 'gzip')
        body = new Response(body.body!.pipeThrough(new DecompressionStream('gzip')))
      this.batches.push(Batch.parse(JSON.parse(await body.text())))
      return json({ accepted: 1, duplicate: false }, 202)
    }
    return json({ error: { code: 'not_found', message: `no route ${url.pathname}` } }, 404)
  }
}

/**
 * A pinned runtime file's exact bytes. Vite's dev server rewrites JavaScript it serves (the `.mjs`
 * glue), which would fail the SDK's SHA-256 check; `?raw` hands over the file's text untouched.
 */
async function runtimeBytes(path: string): Promise<ArrayBuffer> {
  if (!path.endsWith('.mjs')) return fetchBytes(path)
  const text = ((await import(/* @vite-ignore */ `${path}?raw`)) as { default: string }).default
  return new TextEncoder().encode(text).buffer as ArrayBuffer
}

const json = (body: unknown, status: number, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } })

/** The committed demo classifier (`demo/models/weather`): its files, signature and profile. */
export async function demoWeather(): Promise<{
  onnx: ArrayBuffer
  signature: Assignment['signature']
  profile: Assignment['profile']
}> {
  const [onnx, signature, profile] = await Promise.all([
    fetchBytes('/demo/models/weather/model.onnx'),
    fetch('/demo/models/weather/signature.json').then((r) => r.json()),
    fetch('/demo/models/weather/profile.json').then((r) => r.json()),
  ])
  return { onnx, signature, profile }
}

/** The demo weather model's version 1 as an assignment served by `edge` (files stored there); `extra` overrides fields. */
export async function weatherAssignment(edge: PageEdge, extra: Partial<Assignment> = {}): Promise<Assignment> {
  const weather = await demoWeather()
  return {
    model: 'weather',
    version: 1,
    role: 'primary',
    format: 'onnx',
    files: await edge.addFiles({ 'model.onnx': weather.onnx }),
    signature: weather.signature,
    profile: weather.profile,
    telemetry: { sampleRate: 1, windowSeconds: 60, flushSeconds: 3600 },
    ttlSeconds: 60,
    ...extra,
  }
}

/**
 * The worker under test, for `createFleet({workerUrl})`: the URL Vite gives `new Worker(new URL(…))`
 * of the TypeScript entry. A plain URL of the file would be served as page code, whose `import()`
 * calls Vitest rewrites into a helper that exists only on the page.
 */
export const WORKER_URL = new URL('/worker/index.ts?worker_file&type=module', location.origin)
