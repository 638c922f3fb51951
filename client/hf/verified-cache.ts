/**
 * @module
 * transformers.js's custom cache (`env.customCache`) over edgefleet's verified files. Requests under a
 * model's prefix (`<remoteHost>/edgefleet/<model>/resolve/main/`) are answered from IndexedDB, each read
 * checked again against its SHA-256 (client/cache.ts); other requests (other models, the runtime's wasm)
 * go to the browser cache transformers.js would have used, so the app's other models behave as before.
 */
import type { ModelCache } from '../cache.ts'
import type { TransformersCache } from './types.ts'

/** A file of a loaded version: its digest, and its bytes when the cache had no room to keep them. */
export interface ServedFile {
  sha256: string
  size: number
  bytes?: ArrayBuffer
}

const TYPES: Record<string, string> = { json: 'application/json', onnx: 'application/octet-stream' }

/**
 * Serves verified model files to transformers.js by URL.
 *
 * @example
 * env.customCache = new VerifiedCache(cache); env.useCustomCache = true
 */
export class VerifiedCache implements TransformersCache {
  readonly #models = new Map<string, Map<string, ServedFile>>()

  constructor(
    private readonly cache: ModelCache,
    /** Where requests that are not edgefleet's go (transformers.js's usual browser cache), or null. */
    private readonly fallback: () => Promise<TransformersCache | null> = browserCache,
  ) {}

  /** Serves `files` (by path) under `prefix`, replacing what was served there before (a newer version). */
  serve(prefix: string, files: Map<string, ServedFile>): void {
    this.#models.set(prefix, files)
  }

  /** True when `url` is under a prefix this cache serves. */
  owns(url: string): boolean {
    return [...this.#models.keys()].some((p) => url.startsWith(p))
  }

  async match(request: string | Request): Promise<Response | undefined> {
    const url = typeof request === 'string' ? request : request.url
    for (const [prefix, files] of this.#models) {
      if (!url.startsWith(prefix)) continue
      const path = decodeURIComponent(url.slice(prefix.length))
      const file = files.get(path)
      if (!file) return undefined
      const bytes = file.bytes ?? (await this.cache.getFile(file.sha256, file.size)).bytes
      if (!bytes) return undefined
      const type = TYPES[path.split('.').pop() ?? ''] ?? 'application/octet-stream'
      return new Response(bytes, { headers: { 'content-length': String(bytes.byteLength), 'content-type': type } })
    }
    return (await this.fallback())?.match(request)
  }

  async put(request: string | Request, response: Response): Promise<void> {
    // edgefleet's own files are stored, verified, before they are served: never from transformers.js.
    if (this.owns(typeof request === 'string' ? request : request.url)) return
    await (await this.fallback())?.put(request, response)
  }
}

/** The Cache API store transformers.js uses by default, when the page has one. */
async function browserCache(): Promise<TransformersCache | null> {
  if (typeof caches === 'undefined') return null
  return caches.open('transformers-cache').catch(() => null)
}
