/**
 * @module
 * Loading one version: every file of the version and of the engine runtime it needs read from the
 * cache or downloaded (verified before it is stored), then the version loaded in the worker.
 */
import { defaultBackends } from '../core/backends.ts'
import { EdgefleetError, isEdgefleetError } from '../core/errors.ts'
import type { Assignment } from '../core/formats/assignment.ts'
import type { Backend } from '../core/formats/common.ts'
import { RUNTIME_FILES } from '../core/runtime-files.ts'
import type { ModelCache } from './cache.ts'
import { downloadVerified } from './download.ts'
import type { LoadedVersion } from './model.ts'
import { pinnedFiles, runtimeAssets, runtimeGroupsFor } from './runtime-assets.ts'
import type { FleetEvent, LoadOptions } from './types.ts'
import type { SignedVersions } from './signed-versions.ts'
import type { WorkerHost } from './worker-host.ts'

/** What loading a version needs of an assignment (a primary's, or one built from its `shadow`). */
export type VersionToLoad = Pick<
  Assignment,
  | 'model'
  | 'version'
  | 'role'
  | 'format'
  | 'files'
  | 'signature'
  | 'profile'
  | 'sigstoreBundle'
  | 'variant'
  | 'backends'
>

/**
 * The backends to try for a variant that runs on some only (docs/variants.md): the app's (or the
 * default) order kept to those, or the variant's own order when the app named none of them. A failure
 * on every one of them is a variant failure, and the fleet falls back to the next variant.
 */
export function variantBackends(order: readonly Backend[], only: readonly Backend[] | undefined): Backend[] {
  if (only === undefined) return [...order]
  const kept = order.filter((b) => only.includes(b))
  return kept.length > 0 ? kept : [...only]
}

/** What the loader needs from the fleet. */
export interface VersionLoaderDeps {
  cache(): Promise<ModelCache>
  host(): Promise<WorkerHost>
  /** The edge, without a trailing slash. */
  endpoint: string
  appKey: string
  /** Base URL of the pinned runtime files (default: the edge's artifacts). */
  runtimeUrl?: string
  fetch?: typeof fetch
  /** `'fail'` (default): a version the storage estimate says cannot be stored is refused before downloading. */
  whenStorageIsShort?: 'fail' | 'run-from-memory'
  emit(event: FleetEvent): void
  /** The publisher keys a version must be signed with (`trustedKeys`); any version runs when absent. */
  signed?: SignedVersions
}

/**
 * Loads versions into the worker, each under its own key. Files already cached are read, missing ones
 * are downloaded with progress and verified by SHA-256 before they are stored; verified bytes that find
 * no room on disk still run from memory (`quota_exceeded` is emitted, the offline copy is lost).
 *
 * @example
 * const loaded = await loader.load(assignment, { onProgress: ({ loaded, total }) => bar(loaded / total) })
 */
export class VersionLoader {
  #loads = 0

  constructor(private readonly deps: VersionLoaderDeps) {}

  /** Downloads (or reads from cache) and verifies every file of a version and its runtime, then loads it in the worker. */
  async load(assignment: VersionToLoad, options: LoadOptions): Promise<LoadedVersion> {
    // Before a byte is downloaded: an unsigned or badly signed version is refused outright.
    await this.deps.signed?.check(assignment)
    const [cache, host] = await Promise.all([this.deps.cache(), this.deps.host()])
    const backends = variantBackends(options.backends ?? defaultBackends(assignment.format), assignment.backends)
    const allowFallback = options.allowFallbackAdapter ?? false
    const groups = runtimeGroupsFor(assignment.format, backends, host.capabilities, allowFallback).filter(
      (g) => !host.sentRuntime.has(g),
    )
    const runtime = pinnedFiles(RUNTIME_FILES, groups)
    cache.pin([...runtime.map((f) => f.sha256), ...assignment.files.map((f) => f.sha256)])
    const runtimeBase = (this.deps.runtimeUrl ?? `${this.deps.endpoint}/v1/artifacts`).replace(/\/$/, '')
    const wanted = [
      ...assignment.files.map((f) => ({ sha256: f.sha256, size: f.size, url: f.url })),
      ...runtime.map((f) => ({ sha256: f.sha256, size: f.size, url: `${runtimeBase}/${f.sha256}` })),
    ]
    const bytes = new Map<string, ArrayBuffer>()
    const missing: typeof wanted = []
    for (const f of wanted) {
      const cached = await cache.getFile(f.sha256, f.size)
      if (cached.bytes) bytes.set(f.sha256, cached.bytes)
      else missing.push(f)
      if (cached.corrupt)
        this.deps.emit({
          type: 'error',
          model: assignment.model,
          code: 'integrity_error',
          message: `the cached copy of ${f.sha256} did not match its SHA-256; it was deleted and is downloaded again`,
        })
    }
    // One total for the whole version, runtime included, fixed before the first byte is fetched.
    const progress = { loaded: 0, total: missing.reduce((a, f) => a + f.size, 0) }
    const protect = wanted.map((f) => f.sha256)
    if (progress.total > 0 && (this.deps.whenStorageIsShort ?? 'fail') === 'fail') {
      const room = await cache.roomFor(protect)
      if (room !== undefined && progress.total > room)
        throw new EdgefleetError(
          'quota_exceeded',
          `${assignment.model} v${assignment.version} needs ${progress.total} bytes of storage and the browser's quota leaves room for ${Math.max(0, room)}; nothing was downloaded`,
          { data: { needed: progress.total, room: Math.max(0, room) } },
        )
    }
    if (missing.length) options.onProgress?.({ ...progress })
    for (const f of missing) {
      const b = await downloadVerified(f.url, f, {
        headers: { 'X-Edgefleet-Key': this.deps.appKey },
        fetch: this.deps.fetch,
        partials: cache.partials,
        onBytes: (n) => {
          progress.loaded += n
          options.onProgress?.({ ...progress })
        },
      })
      try {
        await cache.putFile(f.sha256, b, protect)
      } catch (e) {
        if (!isEdgefleetError(e) || e.code !== 'quota_exceeded') throw e
        this.deps.emit({ type: 'error', model: assignment.model, code: e.code, message: e.message })
      }
      bytes.set(f.sha256, b)
    }

    const files: Record<string, ArrayBuffer> = {}
    for (const f of assignment.files) files[f.path] = bytes.get(f.sha256)!
    const key = `${assignment.model}@${assignment.version}#${assignment.role}/${++this.#loads}`
    // TensorFlow.js travels only to workers that run a tfjs model, once.
    const tfjsEngine =
      assignment.format !== 'onnx' && !host.tfjsEngineLoaded
        ? (await import('./tfjs-engine-source.ts')).default || undefined
        : undefined
    const assets = runtimeAssets(RUNTIME_FILES, groups, bytes)
    // onnxruntime-web's WebGPU build travels only to workers that will try WebGPU, once.
    if (assets.ortWebgpu) {
      const build = (await import('./ort-webgpu-source.ts')).default
      if (build) assets.ortWebgpu.build = build
    }
    const result = await host.load({
      key,
      model: assignment.model,
      version: assignment.version,
      role: assignment.role,
      format: assignment.format,
      files,
      signature: assignment.signature,
      profile: assignment.profile,
      backends,
      allowFallbackAdapter: allowFallback,
      ...(options.webnnDeviceType ? { webnnDeviceType: options.webnnDeviceType } : {}),
      driftWindowMinutes: options.driftWindowMinutes,
      ...(assignment.role === 'shadow' && options.shadowTolerance !== undefined
        ? { shadowTolerance: options.shadowTolerance }
        : {}),
      runtime: assets,
      ...(tfjsEngine ? { tfjsEngine } : {}),
    })
    for (const g of groups) host.sentRuntime.add(g)
    if (assignment.format !== 'onnx') host.tfjsEngineLoaded = true
    return {
      key,
      version: assignment.version,
      result,
      signature: assignment.signature,
      downloadedBytes: progress.total,
    }
  }
}
