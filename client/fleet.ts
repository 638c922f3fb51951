import { EdgefleetError, isEdgefleetError } from '../core/errors.ts'
import type { Assignment } from '../core/formats/assignment.ts'
import type { Backend, Role } from '../core/formats/common.ts'
import type { DeviceCaps } from '../core/formats/telemetry.ts'
import { fetchAssignment } from './assignment.ts'
import { ModelCache, openCache } from './cache.ts'
import { hashedDeviceId, randomDeviceId } from './device.ts'
import { downloadVerified, type Progress } from './download.ts'
import { FleetModel, type LoadedVersion, type ModelHooks, type Prediction } from './model.ts'
import { PredictionLog, predictedClass, type FeedbackResult } from './predictions.ts'
import { ShadowKeeper, type VersionToLoad } from './shadow.ts'
import { RUNTIME_FILES } from '../core/runtime-files.ts'
import { defaultBackends, pinnedFiles, runtimeAssets, runtimeGroupsFor } from './runtime.ts'
import { startWorker, type WorkerHost } from './worker-host.ts'
import { cryptoRandom, DpBudget, resolveDp, type DpOptions } from './telemetry/dp.ts'
import { TelemetryQueue } from './telemetry/queue.ts'
import { TelemetryProcessor } from './telemetry/telemetry.ts'
import { createTransport } from './telemetry/transport.ts'

/** The SDK version telemetry batches carry as `device.sdk`. */
export const SDK_VERSION = '0.1.0'

/** Something the app may want to know about (or log): loads, swaps, fallbacks, offline use, errors. */
export type FleetEvent =
  | {
      type: 'loaded'
      model: string
      /** `shadow`: the shadow version of a shadow-mode rollout, loaded beside the primary. */
      role: Role
      version: number
      backend: Backend
      fallbacks: Partial<Record<Backend, string>>
      /** Where the assignment came from: the edge (200 or 304), or IndexedDB when the edge was unreachable. */
      assignment: 'edge' | 'cache'
      /** Bytes downloaded for this load (0: every file, runtime included, came from the cache). */
      downloadedBytes: number
    }
  | { type: 'swapped'; model: string; from: number; to: number }
  | { type: 'offline'; model: string; version: number; reason: string }
  | { type: 'error'; model: string; code: string; message: string; role?: Role }

export type { FeedbackResult } from './predictions.ts'

export interface FleetOptions {
  /** The edge, e.g. `https://models.example.com`. */
  endpoint: string
  /** An app key (a token with the single scope `device`). */
  appKey: string
  /** An app-supplied stable id (hashed before use); by default a random id kept in IndexedDB. */
  deviceId?: string
  onEvent?: (event: FleetEvent) => void
  /** Where the worker script is; the built SDK carries its own. */
  workerUrl?: string | URL
  /** Base URL of the pinned runtime files, addressed by SHA-256 (default: the edge's artifacts). */
  runtimeUrl?: string
  /** Byte budget of the IndexedDB cache (default 512 MiB). */
  cacheBytes?: number
  /** Ask the browser to keep the cache through storage pressure (`navigator.storage.persist()`). */
  persist?: boolean
  /** IndexedDB database name (default `edgefleet`). */
  dbName?: string
  fetch?: typeof fetch
  /**
   * Report `telemetry/1` (counts, sketches and profile-bin histograms only) to the edge (default true).
   * `{dp: {epsilon, dailyBudget?, clip?}}` adds Laplace noise to the histograms (local differential
   * privacy, off by default; fleet histograms are then no longer exact: docs/telemetry.md).
   */
  telemetry?: boolean | TelemetryOptions
  /**
   * The SDK's random source, uniform in [0, 1): telemetry sampling and DP noise (default: the
   * platform's CSPRNG). Tests pass a seeded generator so runs replay.
   */
  random?: () => number
}

/** Telemetry settings of the fleet. */
export interface TelemetryOptions {
  /** Local differential privacy on histogram counts (see DpOptions); off when absent. */
  dp?: DpOptions
}

export type { DpOptions } from './telemetry/dp.ts'

export interface LoadOptions {
  onProgress?: (p: Progress) => void
  /** Backends to try, in order (defaults per engine). */
  backends?: Backend[]
  /** Accept a software WebGPU adapter (SwiftShader); off by default. */
  allowFallbackAdapter?: boolean
  driftWindowMinutes?: number
  /**
   * A shadow's regression and tensor outputs agree with the primary's when |primary − shadow| ≤
   * shadowTolerance · max(1, |primary|) (default 0.01); classifiers agree on the label.
   */
  shadowTolerance?: number
}

/** The SDK's entry point: one per page. */
export interface Fleet {
  /** The pseudonymous id this device reports under. */
  deviceId(): Promise<string>
  /** Loads a model (last-known-good first, then the edge's assignment), ready to predict. */
  load(model: string, options?: LoadOptions): Promise<FleetModel>
  /**
   * Ground truth for a prediction, for the fleet's accuracy: counts `labeled` and, when `label` is the
   * class the prediction decoded to, `correct` in the report of that prediction's version and minute.
   * The label never leaves the device: only the two counts do. The last 1000 predictions of the page
   * (at most 24 h old) can be given feedback; another id is `not_found`. A second feedback for the
   * same id is not counted (`duplicate`).
   *
   * @example
   * const r = await model.predict(today)
   * fleet.feedback(r.id, 'rain') // { value: true, reason: 'recorded' }
   */
  feedback(predictionId: string, label: string): FeedbackResult
  /** Sends the telemetry collected so far (no-op with `telemetry: false`). Safe to call twice. */
  flush(): Promise<void>
  /** Stops timers, sends the last telemetry, unloads models, ends the worker. Safe to call twice. */
  close(): Promise<void>
}

/**
 * Creates the SDK.
 *
 * @example
 * const fleet = createFleet({ endpoint: 'https://edge.example.com', appKey })
 * const model = await fleet.load('weather')
 * const { output } = await model.predict({ temp_max: 14.2, wind: 3.1 })
 */
export function createFleet(options: FleetOptions): Fleet {
  return new FleetImpl(options)
}

class FleetImpl implements Fleet {
  private cache?: Promise<ModelCache>
  private host?: Promise<WorkerHost>
  private id?: Promise<string>
  private telemetry?: Promise<TelemetryProcessor | null>
  /** The processor once started, for what must be synchronous (feedback). */
  private telemetryNow: TelemetryProcessor | null = null
  private readonly predictions = new PredictionLog()
  private readonly shadows = new ShadowKeeper({
    load: (version, options) => this.loadVersion(version, { ...options, onProgress: undefined }),
    unload: async (key) => {
      await this.retire(key)
      await (await this.getHost()).api.unload(key)
    },
    telemetry: () => this.getTelemetry(),
    emit: (event) => this.emit(event),
    backends: (format, options) => options.backends ?? defaultBackends(format),
  })
  private readonly models = new Set<FleetModel>()
  /** Each model's assignment refresh: its interval and the ttl it runs at (the latest assignment's). */
  private readonly timers = new Map<FleetModel, { timer: ReturnType<typeof setInterval>; ttlSeconds: number }>()
  private loads = 0
  private closed = false

  private readonly dp?: Required<DpOptions>
  private readonly random: () => number

  constructor(private readonly options: FleetOptions) {
    if (!/^https?:\/\//.test(options.endpoint))
      throw new EdgefleetError('bad_request', 'endpoint must be an http(s) URL')
    if (!options.appKey) throw new EdgefleetError('bad_request', 'appKey is required')
    const dp = typeof options.telemetry === 'object' ? options.telemetry.dp : undefined
    if (dp !== undefined) this.dp = resolveDp(dp)
    this.random = options.random ?? cryptoRandom
  }

  private get endpoint(): string {
    return this.options.endpoint.replace(/\/$/, '')
  }

  private getCache(): Promise<ModelCache> {
    this.cache ??= openCache(this.options.dbName).then((db) => {
      if (this.options.persist) void navigator.storage?.persist?.()
      return new ModelCache(db, { budgetBytes: this.options.cacheBytes })
    })
    return this.cache
  }

  private getHost(): Promise<WorkerHost> {
    this.host ??= startWorker(this.options.workerUrl)
    return this.host
  }

  /** The telemetry processor, started with the first load (null when telemetry is off). */
  private getTelemetry(): Promise<TelemetryProcessor | null> {
    this.telemetry ??=
      this.options.telemetry === false
        ? Promise.resolve(null)
        : Promise.all([this.getCache(), this.getHost()])
            .then(
              ([cache, host]) =>
                new TelemetryProcessor({
                  queue: new TelemetryQueue(cache.database),
                  transport: createTransport({
                    endpoint: this.endpoint,
                    appKey: this.options.appKey,
                    fetch: this.options.fetch,
                  }),
                  collect: (key) => host.api.collect(key),
                  device: async () => ({ id: await this.deviceId(), caps: await this.caps(), sdk: SDK_VERSION }),
                  random: this.random,
                  ...(this.dp
                    ? {
                        dp: {
                          epsilon: this.dp.epsilon,
                          clip: this.dp.clip,
                          budget: new DpBudget(cache.database, this.dp.dailyBudget),
                          random: this.random,
                        },
                      }
                    : {}),
                }),
            )
            .then((t) => (this.telemetryNow = t))
    return this.telemetry
  }

  /** Starts reporting a freshly loaded version. */
  private async track(assignment: Assignment, loaded: LoadedVersion, ms: number): Promise<void> {
    const telemetry = await this.getTelemetry().catch(() => null)
    if (!telemetry) return
    const { backend, fallbacks } = loaded.result
    const rollout = assignment.rollout ? { id: assignment.rollout.id, arm: assignment.rollout.arm } : undefined
    const target = {
      model: assignment.model,
      version: assignment.version,
      role: assignment.role,
      ...(rollout ? { rollout } : {}),
      backend,
      fallbacks,
    }
    if (telemetry.track(loaded.key, target, assignment.telemetry))
      telemetry.noteLoad(loaded.key, { ms, cacheHit: loaded.downloadedBytes === 0 })
  }

  deviceId(): Promise<string> {
    this.id ??=
      this.options.deviceId !== undefined
        ? hashedDeviceId(this.options.deviceId)
        : this.getCache().then((c) => c.getOrCreateMeta('deviceId', randomDeviceId))
    return this.id
  }

  private async caps(): Promise<DeviceCaps> {
    const c = (await this.getHost()).capabilities
    const nav = navigator as Navigator & { deviceMemory?: number; userAgentData?: { platform?: string } }
    const platform = nav.userAgentData?.platform
      ?.toLowerCase()
      .replace(/[^a-z0-9_-]/g, '')
      .slice(0, 32)
    return {
      webgpu: c.webgpu && !c.fallbackAdapter,
      f16: c.f16,
      cores: c.cores || undefined,
      deviceMemory: nav.deviceMemory,
      ...(platform ? { platform } : {}),
    }
  }

  private emit(event: FleetEvent): void {
    try {
      this.options.onEvent?.(event)
    } catch {
      // An app's listener must never break the SDK.
    }
  }

  async load(model: string, options: LoadOptions = {}): Promise<FleetModel> {
    if (this.closed) throw new EdgefleetError('bad_request', 'this fleet is closed')
    const cache = await this.getCache()
    const record = await cache.getModel(model)
    let assignment: Assignment
    let fresh: { etag?: string } | null = null
    let from: 'edge' | 'cache' = 'edge'
    try {
      const answer = await fetchAssignment({
        endpoint: this.endpoint,
        appKey: this.options.appKey,
        model,
        deviceId: await this.deviceId(),
        caps: await this.caps(),
        etag: record?.etag,
        fetch: this.options.fetch,
      })
      if (answer.status === 'unchanged' && record) {
        assignment = record.current
        await cache.touchAssignment(model, Date.now())
      } else if (answer.status === 'changed') {
        assignment = answer.assignment
        fresh = { etag: answer.etag }
      } else throw new EdgefleetError('network_error', 'the edge answered 304 to a request without an ETag')
    } catch (e) {
      if (!record || !isEdgefleetError(e) || e.code !== 'network_error') throw e
      assignment = record.current
      from = 'cache'
      this.emit({ type: 'offline', model, version: assignment.version, reason: e.message })
    }

    let loaded: LoadedVersion
    const started = performance.now()
    try {
      loaded = await this.loadVersion(assignment, options)
    } catch (e) {
      // A new version that cannot be fetched or verified never replaces one that worked.
      if (
        !record ||
        record.current.version === assignment.version ||
        !isEdgefleetError(e) ||
        !['integrity_error', 'network_error', 'not_found'].includes(e.code)
      )
        throw e
      this.emit({ type: 'error', model, code: e.code, message: e.message })
      assignment = record.current
      fresh = null
      loaded = await this.loadVersion(assignment, options)
    }
    if (fresh) await cache.putAssignment(model, assignment, fresh.etag, Date.now())
    this.emit({
      type: 'loaded',
      model,
      role: assignment.role,
      version: assignment.version,
      backend: loaded.result.backend,
      fallbacks: loaded.result.fallbacks,
      assignment: from,
      downloadedBytes: loaded.downloadedBytes,
    })

    await this.track(assignment, loaded, performance.now() - started)
    const hooks: ModelHooks = {
      closed: (m) => this.forget(m),
      refresh: (m) => this.refresh(m, options),
      predicted: (v, ps) => this.remember(v, ps),
      retire: (key) => this.retire(key),
      random: this.random,
    }
    const handle = new FleetModel(model, await this.getHost(), loaded, hooks)
    this.models.add(handle)
    this.scheduleRefresh(handle, assignment.ttlSeconds, options)
    // The shadow (if any) loads in the background: the primary answers meanwhile.
    void this.shadows.sync(handle, assignment, options, from)
    return handle
  }

  /** Downloads (or reads from cache) and verifies every file of a version and its runtime, then loads it in the worker. */
  private async loadVersion(assignment: VersionToLoad, options: LoadOptions): Promise<LoadedVersion> {
    const [cache, host] = await Promise.all([this.getCache(), this.getHost()])
    const backends = options.backends ?? defaultBackends(assignment.format)
    const allowFallback = options.allowFallbackAdapter ?? false
    const groups = runtimeGroupsFor(assignment.format, backends, host.capabilities, allowFallback).filter(
      (g) => !host.sentRuntime.has(g),
    )
    const runtime = pinnedFiles(RUNTIME_FILES, groups)
    cache.pin([...runtime.map((f) => f.sha256), ...assignment.files.map((f) => f.sha256)])
    const runtimeBase = (this.options.runtimeUrl ?? `${this.endpoint}/v1/artifacts`).replace(/\/$/, '')
    const wanted = [
      ...assignment.files.map((f) => ({ sha256: f.sha256, size: f.size, url: f.url })),
      ...runtime.map((f) => ({ sha256: f.sha256, size: f.size, url: `${runtimeBase}/${f.sha256}` })),
    ]
    const bytes = new Map<string, ArrayBuffer>()
    const missing: typeof wanted = []
    for (const f of wanted) {
      const b = await cache.getFile(f.sha256)
      if (b) bytes.set(f.sha256, b)
      else missing.push(f)
    }
    const progress = { loaded: 0, total: missing.reduce((a, f) => a + f.size, 0) }
    if (missing.length) options.onProgress?.({ ...progress })
    const protect = wanted.map((f) => f.sha256)
    for (const f of missing) {
      const b = await downloadVerified(f.url, f, {
        headers: { 'X-Edgefleet-Key': this.options.appKey },
        fetch: this.options.fetch,
        onBytes: (n) => {
          progress.loaded += n
          options.onProgress?.({ ...progress })
        },
      })
      try {
        await cache.putFile(f.sha256, b, protect)
      } catch (e) {
        // Verified bytes that find no room on disk still run from memory; only the offline copy is lost.
        if (!isEdgefleetError(e) || e.code !== 'quota_exceeded') throw e
        this.emit({ type: 'error', model: assignment.model, code: e.code, message: e.message })
      }
      bytes.set(f.sha256, b)
    }

    const files: Record<string, ArrayBuffer> = {}
    for (const f of assignment.files) files[f.path] = bytes.get(f.sha256)!
    const key = `${assignment.model}@${assignment.version}#${assignment.role}/${++this.loads}`
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
      driftWindowMinutes: options.driftWindowMinutes,
      ...(assignment.role === 'shadow' && options.shadowTolerance !== undefined
        ? { shadowTolerance: options.shadowTolerance }
        : {}),
      runtime: runtimeAssets(RUNTIME_FILES, groups, bytes),
    })
    for (const g of groups) host.sentRuntime.add(g)
    return {
      key,
      version: assignment.version,
      result,
      signature: assignment.signature,
      downloadedBytes: progress.total,
    }
  }

  /**
   * Asks the edge again every `ttlSeconds` of the latest assignment: a rollout shortens it (its
   * kill switch reaches devices within the edge's 5 s plus this), its end lengthens it again.
   */
  private scheduleRefresh(model: FleetModel, ttlSeconds: number, options: LoadOptions): void {
    const current = this.timers.get(model)
    if (current?.ttlSeconds === ttlSeconds || this.closed) return
    if (current) clearInterval(current.timer)
    this.timers.set(model, {
      ttlSeconds,
      timer: setInterval(() => void this.refresh(model, options).catch(() => undefined), ttlSeconds * 1000),
    })
  }

  /** Re-asks the edge; a changed version loads in the background and swaps in. */
  private async refresh(model: FleetModel, options: LoadOptions): Promise<void> {
    if (this.closed) return
    const cache = await this.getCache()
    const record = await cache.getModel(model.name)
    const answer = await fetchAssignment({
      endpoint: this.endpoint,
      appKey: this.options.appKey,
      model: model.name,
      deviceId: await this.deviceId(),
      caps: await this.caps(),
      etag: record?.etag,
      fetch: this.options.fetch,
    })
    if (answer.status === 'unchanged') {
      await cache.touchAssignment(model.name, Date.now())
      // A shadow whose load failed on the network is tried again.
      if (record) await this.shadows.sync(model, record.current, options)
      return
    }
    if (this.timers.has(model)) this.scheduleRefresh(model, answer.assignment.ttlSeconds, options)
    if (answer.assignment.version === model.version) {
      await cache.putAssignment(model.name, answer.assignment, answer.etag, Date.now())
      // Same version, new terms: e.g. a shadow rollout started on it (a rollout label and a shadow to run).
      await this.relabel(model.workerKey, answer.assignment)
      await this.shadows.sync(model, answer.assignment, options)
      return
    }
    try {
      const started = performance.now()
      const next = await this.loadVersion(answer.assignment, { ...options, onProgress: undefined })
      const from = model.version
      await this.track(answer.assignment, next, performance.now() - started)
      // The old version's last delta is taken when it is idle, just before the worker unloads it.
      model.swap(next)
      await cache.putAssignment(model.name, answer.assignment, answer.etag, Date.now())
      this.emit({ type: 'swapped', model: model.name, from, to: next.version })
      void this.shadows.sync(model, answer.assignment, options)
    } catch (e) {
      this.emit({
        type: 'error',
        model: model.name,
        code: isEdgefleetError(e) ? e.code : 'internal',
        message: e instanceof Error ? e.message : String(e),
      })
      throw e
    }
  }

  /** Reports a loaded primary under the rollout label of a changed assignment of the same version. */
  private async relabel(key: string, assignment: Assignment): Promise<void> {
    const telemetry = await (this.telemetry ?? Promise.resolve(null)).catch(() => null)
    const target = telemetry?.targetOf(key)
    if (!telemetry || !target) return
    const next = assignment.rollout ? { id: assignment.rollout.id, arm: assignment.rollout.arm } : undefined
    if (target.rollout?.id === next?.id && target.rollout?.arm === next?.arm) return
    const { rollout: _previous, ...rest } = target
    await telemetry.retarget(key, next ? { ...rest, rollout: next } : rest)
  }

  /** Remembers predictions for feedback: their report target and the class each decoded to, nothing else. */
  private remember(v: LoadedVersion, predictions: readonly Prediction[]): void {
    const at = Date.now()
    const target = this.telemetryNow?.targetOf(v.key)
    for (const p of predictions)
      this.predictions.remember(p.id, { target, at, predicted: predictedClass(p.output, v.signature), answered: false })
  }

  feedback(predictionId: string, label: string): FeedbackResult {
    if (this.closed) throw new EdgefleetError('bad_request', 'this fleet is closed')
    const { count, ...result } = this.predictions.feedback(predictionId, label, Date.now())
    if (count) this.telemetryNow?.noteFeedback(count.target, count.at, count.correct)
    return result
  }

  private retire(key: string): Promise<void> {
    return (this.telemetry ?? Promise.resolve(null)).then((t) => t?.retire(key)).catch(() => undefined)
  }

  async flush(): Promise<void> {
    const telemetry = await (this.telemetry ?? Promise.resolve(null)).catch(() => null)
    await telemetry?.flush()
  }

  private forget(model: FleetModel): void {
    void this.shadows.drop(model)
    clearInterval(this.timers.get(model)?.timer)
    this.timers.delete(model)
    this.models.delete(model)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    // The last telemetry is collected while the models are still loaded.
    await (this.telemetry ?? Promise.resolve(null)).then((t) => t?.close()).catch(() => undefined)
    await Promise.all([...this.models].map((m) => m.close()))
    if (this.host) (await this.host.catch(() => null))?.terminate()
    if (this.cache) (await this.cache.catch(() => null))?.close()
  }
}
