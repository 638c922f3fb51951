/**
 * @module
 * The fleet itself, loaded with the first `fleet.load()` (client/fleet.ts is the small entry that
 * creates it). It owns one worker, one cache and one telemetry processor per page, asks the edge which
 * version each model runs, loads it (client/version-loader.ts), keeps it current every `ttlSeconds`
 * with a background swap, and keeps shadows in line (client/shadow.ts).
 */
import { defaultBackends } from '../core/backends.ts'
import { EdgefleetError, isEdgefleetError } from '../core/errors.ts'
import type { Assignment } from '../core/formats/assignment.ts'
import type { Backend } from '../core/formats/common.ts'
import type { DeviceCaps } from '../core/formats/telemetry.ts'
import type { VariantExclusion } from '../core/formats/variants.ts'
import type { HuggingFaceModel, HuggingFaceOptions } from './hf/types.ts'
import { fetchAssignment, type AssignmentAnswer } from './assignment.ts'
import { BrokenVariants, isVariantFailure, variantFallback } from './broken-variants.ts'
import { ModelCache } from './cache.ts'
import { openDatabase } from './db.ts'
import { deviceCaps, pageCaps } from './device-caps.ts'
import { hashedDeviceId, randomDeviceId } from './device.ts'
import { FleetModel, type LoadedVersion, type ModelHooks, type Prediction } from './model.ts'
import { PredictionLog, predictedClass, type FeedbackResult } from './predictions.ts'
import { ShadowKeeper } from './shadow.ts'
import type { DpOptions } from './telemetry/dp-options.ts'
import { cryptoRandom } from './telemetry/dp.ts'
import { relabel, reportTarget, startTelemetry } from './telemetry/fleet-telemetry.ts'
import type { TelemetryProcessor } from './telemetry/processor.ts'
import { WorkerlessCounter } from './telemetry/workerless-counter.ts'
import type { Fleet, FleetEvent, FleetOptions, LoadOptions } from './types.ts'
import { SignedVersions, trustedKeyDers } from './signed-versions.ts'
import { VersionLoader } from './version-loader.ts'
import { DeviceHealth } from './health/device-health.ts'
import { startWorker, type WorkerHost } from './worker-host.ts'

/** Delays before the retries of a first load's assignment request after a network failure. */
const FIRST_ASK_RETRY_MS = [500, 2000]

/** The fleet behind `createFleet`'s handle, given options already checked (and DP resolved). */
export class FleetCore implements Fleet {
  private cache?: Promise<ModelCache>
  private host?: Promise<WorkerHost>
  private id?: Promise<string>
  private telemetry?: Promise<TelemetryProcessor | null>
  /** The processor once started, for what must be synchronous (feedback). */
  private telemetryNow: TelemetryProcessor | null = null
  private readonly predictions = new PredictionLog()
  private readonly broken = new BrokenVariants(() => this.getCache())
  private readonly loader: VersionLoader
  private readonly shadows: ShadowKeeper
  private readonly models = new Set<FleetModel>()
  /** Each model's assignment refresh: its interval and the ttl it runs at (the latest assignment's). */
  private readonly timers = new Map<FleetModel, { timer: ReturnType<typeof setInterval>; ttlSeconds: number }>()
  private closed = false
  private readonly signed?: SignedVersions
  /** Telemetry keys of models transformers.js runs: what the page counted of their calls. */
  private readonly workerless = new Map<string, WorkerlessCounter>()
  private readonly endpoint: string
  private readonly dp?: Required<DpOptions>
  private readonly random: () => number
  private readonly health = new DeviceHealth({
    db: async () => (await this.getCache()).database,
    telemetry: () => this.getTelemetry(),
  })

  constructor(
    private readonly options: FleetOptions,
    dp: Required<DpOptions> | undefined,
  ) {
    this.dp = dp
    this.random = options.random ?? cryptoRandom
    this.endpoint = options.endpoint.replace(/\/$/, '')
    this.signed = options.trustedKeys ? new SignedVersions(trustedKeyDers(options.trustedKeys)) : undefined
    this.loader = new VersionLoader({
      cache: () => this.getCache(),
      host: () => this.getHost(),
      endpoint: this.endpoint,
      appKey: options.appKey,
      runtimeUrl: options.runtimeUrl,
      fetch: options.fetch,
      whenStorageIsShort: options.whenStorageIsShort,
      emit: (event) => this.emit(event),
      signed: this.signed,
    })
    this.shadows = new ShadowKeeper({
      load: (version, loadOptions) => this.loader.load(version, { ...loadOptions, onProgress: undefined }),
      unload: async (key) => {
        await this.retire(key)
        await (await this.getHost()).api.unload(key)
      },
      telemetry: () => this.getTelemetry(),
      emit: (event) => this.emit(event),
      backends: (format, loadOptions) => loadOptions.backends ?? defaultBackends(format),
      variantFailed: (model, broken) => this.askWithout(model.name, broken),
      adopt: (model, answer, loadOptions) => this.refresh(model, loadOptions, answer),
    })
  }

  private getCache(): Promise<ModelCache> {
    this.cache ??= openDatabase(this.options.dbName).then(
      (db) => {
        if (this.options.persist) void navigator.storage?.persist?.()
        return new ModelCache(db, { budgetBytes: this.options.cacheBytes })
      },
      (e) => {
        // Not kept: a database blocked by another tab may open on the next call.
        this.cache = undefined
        throw e
      },
    )
    return this.cache
  }

  private getHost(): Promise<WorkerHost> {
    if (this.host) return this.host
    const host: Promise<WorkerHost> = startWorker(this.options.workerUrl, () => {
      // The worker is gone: the next load starts another one (models loaded in it must be loaded again).
      if (this.host === host) this.host = undefined
      const targets = [...this.models].map((m) => this.telemetryNow?.targetOf(m.workerKey))
      this.health.workerGone(targets.filter((t) => t !== undefined))
    })
    this.host = host
    return host
  }

  /** The telemetry processor, started with the first load (null when telemetry is off). */
  private getTelemetry(): Promise<TelemetryProcessor | null> {
    this.telemetry ??=
      this.options.telemetry === false
        ? Promise.resolve(null)
        : this.getCache()
            .then((cache) =>
              startTelemetry({
                db: cache.database,
                endpoint: this.endpoint,
                appKey: this.options.appKey,
                fetch: this.options.fetch,
                // Through the current worker: a restarted one holds the versions loaded since. Models
                // transformers.js runs (fleet.huggingFace) have nothing in the worker to collect.
                collect: async (key) =>
                  this.workerless.get(key)?.take(key, Date.now()) ?? (await this.getHost()).api.collect(key),
                device: async () => ({
                  id: await this.deviceId(),
                  // A page that runs only transformers.js models starts no worker to probe the device.
                  caps: this.host ? deviceCaps((await this.host).capabilities) : pageCaps(),
                  ...(this.options.cohort === undefined ? {} : { cohort: this.options.cohort }),
                }),
                random: this.random,
                dp: this.dp,
              }),
            )
            .then(
              (t) => {
                // The crash beacon: loads that pages of this origin died in, counted once.
                if (t) void this.health.sendBeacon(t).catch(() => undefined)
                return (this.telemetryNow = t)
              },
              (e) => {
                this.telemetry = undefined
                throw e
              },
            )
    return this.telemetry
  }

  /** The processor if telemetry has started (never starts it). */
  private startedTelemetry(): Promise<TelemetryProcessor | null> {
    return (this.telemetry ?? Promise.resolve(null)).catch(() => null)
  }

  /** Starts reporting a freshly loaded version. */
  private async track(assignment: Assignment, loaded: LoadedVersion, ms: number): Promise<void> {
    const telemetry = await this.getTelemetry().catch(() => null)
    if (telemetry?.track(loaded.key, reportTarget(assignment, loaded.result), assignment.telemetry))
      telemetry.noteLoad(loaded.key, { ms, cacheHit: loaded.downloadedBytes === 0 })
  }

  deviceId(): Promise<string> {
    this.id ??=
      this.options.deviceId !== undefined
        ? hashedDeviceId(this.options.deviceId)
        : this.getCache()
            .then((c) => c.getOrCreateMeta('deviceId', randomDeviceId))
            .catch((e) => {
              this.id = undefined
              throw e
            })
    return this.id
  }

  /** Asks the edge which version of `model` this device runs, sending the ETag of the one held. */
  private async ask(model: string, etag: string | undefined, caps?: DeviceCaps): Promise<AssignmentAnswer> {
    return fetchAssignment({
      endpoint: this.endpoint,
      appKey: this.options.appKey,
      model,
      deviceId: await this.deviceId(),
      caps: caps ?? deviceCaps((await this.getHost()).capabilities),
      ...(this.options.cohort === undefined ? {} : { cohort: this.options.cohort }),
      etag,
      exclude: await this.broken.exclude(model),
      fetch: this.options.fetch,
    })
  }

  /**
   * The first ask for a model this device has never loaded: with no last-known-good assignment to
   * fall back to, a network failure is retried after 0.5 s and 2 s before the load fails, so a
   * dropped connection or an edge busy for a moment does not fail a page's first load.
   */
  private async askFirst(model: string): Promise<AssignmentAnswer> {
    for (const delayMs of FIRST_ASK_RETRY_MS) {
      try {
        return await this.ask(model, undefined)
      } catch (e) {
        if (!isEdgefleetError(e) || e.code !== 'network_error' || this.closed) throw e
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs))
    }
    return this.ask(model, undefined)
  }

  /**
   * Loads an assignment; when its variant fails to load here (core/variants, docs/variants.md), the
   * variant is remembered as broken for that version and the edge is asked again without it, until one
   * loads or none is left (the first failure is then thrown). The edge picks the next variant: it
   * holds the rules and the files, so the device never downloads a list of variants it will not run.
   */
  private async loadFallingBack(
    model: string,
    first: Assignment,
    options: LoadOptions,
  ): Promise<{ assignment: Assignment; loaded: LoadedVersion; etag?: string; replaced: boolean }> {
    let assignment = first
    let etag: string | undefined
    for (let tries = 0; ; tries++) {
      try {
        return { assignment, loaded: await this.watchedLoad(assignment, options), etag, replaced: assignment !== first }
      } catch (e) {
        if (assignment.variant === undefined || !isVariantFailure(e) || tries >= 16) throw e
        const from = { version: assignment.version, variant: assignment.variant }
        const answer = await this.askWithout(model, from)
        const next = answer?.status === 'changed' ? answer : null
        this.emit(variantFallback(model, from, next?.assignment.variant ?? null, e))
        // No variant left (no_variant), or the edge is unreachable: the load's own failure is the answer.
        if (next === null) throw e
        assignment = next.assignment
        etag = next.etag
      }
    }
  }

  /**
   * Remembers `broken` as a variant of `model` that failed here and asks the edge again, which leaves it
   * out: the answer, or null when there is none (no_variant, or the edge is unreachable).
   */
  private async askWithout(model: string, broken: VariantExclusion): Promise<AssignmentAnswer | null> {
    await this.broken.add(model, broken)
    return this.ask(model, undefined).catch(() => null)
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
      const answer = record ? await this.ask(model, record.etag) : await this.askFirst(model)
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

    if (assignment.format === 'hf-onnx')
      throw new EdgefleetError(
        'bad_request',
        `model "${model}" is a Hugging Face folder: serve it to transformers.js with fleet.huggingFace()`,
      )
    let loaded: LoadedVersion
    const started = performance.now()
    try {
      const done = await this.loadFallingBack(model, assignment, options)
      loaded = done.loaded
      if (done.replaced) {
        assignment = done.assignment
        fresh = { etag: done.etag }
      }
    } catch (e) {
      // A new version that cannot be fetched or verified never replaces one that worked.
      if (
        !record ||
        record.current.version === assignment.version ||
        !isEdgefleetError(e) ||
        !['integrity_error', 'signature_error', 'network_error', 'not_found'].includes(e.code)
      )
        throw e
      this.emit({ type: 'error', model, code: e.code, message: e.message })
      assignment = record.current
      fresh = null
      loaded = await this.watchedLoad(assignment, options)
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
      ...(assignment.variant === undefined ? {} : { variant: assignment.variant }),
    })

    await this.track(assignment, loaded, performance.now() - started)
    const hooks: ModelHooks = {
      closed: (m) => this.forget(m),
      refresh: (m) => this.refresh(m, options),
      predicted: (v, ps) => this.remember(v, ps),
      retire: (key) => this.retire(key),
      backendChanged: (v, from) => this.backendChanged(model, v, from),
      runFailed: (v, e) => this.health.runFailed(this.telemetryNow, this.telemetryNow?.targetOf(v.key), e),
      random: this.random,
    }
    const handle = new FleetModel(model, await this.getHost(), loaded, hooks)
    this.models.add(handle)
    this.scheduleRefresh(handle, assignment.ttlSeconds, options)
    // The shadow (if any) loads in the background: the primary answers meanwhile.
    void this.shadows.sync(handle, assignment, options, from)
    return handle
  }

  /**
   * Serves the version of a Hugging Face model (`hf-onnx`) this device runs to the app's
   * transformers.js (client/hf/hugging-face.ts, loaded with the first call).
   */
  async huggingFace(model: string, options: HuggingFaceOptions): Promise<HuggingFaceModel> {
    if (this.closed) throw new EdgefleetError('bad_request', 'this fleet is closed')
    const { loadHuggingFace } = await import('./hf/hugging-face.ts')
    return loadHuggingFace(
      {
        cache: () => this.getCache(),
        ask: (name, etag) => this.ask(name, etag, this.host ? undefined : pageCaps()),
        appKey: this.options.appKey,
        fetch: this.options.fetch,
        signed: this.signed,
        emit: (event) => this.emit(event),
        telemetry: () => this.getTelemetry(),
        counterFor: (key) => {
          // One counter per version on the page, however many times it is served.
          let counter = this.workerless.get(key)
          if (!counter) this.workerless.set(key, (counter = new WorkerlessCounter(Date.now())))
          return counter
        },
      },
      model,
      options,
    )
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

  /**
   * Re-asks the edge (or takes `given`, an answer already asked for) and follows it: a changed version
   * loads in the background and swaps in.
   */
  private async refresh(model: FleetModel, options: LoadOptions, given?: AssignmentAnswer): Promise<void> {
    if (this.closed) return
    const cache = await this.getCache()
    const record = await cache.getModel(model.name)
    const answer = given ?? (await this.ask(model.name, record?.etag))
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
      const telemetry = await this.startedTelemetry()
      if (telemetry) await relabel(telemetry, model.workerKey, answer.assignment)
      await this.shadows.sync(model, answer.assignment, options)
      return
    }
    try {
      const started = performance.now()
      const done = await this.loadFallingBack(model.name, answer.assignment, { ...options, onProgress: undefined })
      const next = done.loaded
      const assignment = done.assignment
      const etag = done.replaced ? done.etag : answer.etag
      const from = model.version
      await this.track(assignment, next, performance.now() - started)
      // The old version's last delta is taken when it is idle, just before the worker unloads it.
      model.swap(next)
      await cache.putAssignment(model.name, assignment, etag, Date.now())
      this.emit({ type: 'swapped', model: model.name, from, to: next.version })
      void this.shadows.sync(model, assignment, options)
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

  /**
   * A loaded version left the backend it loaded on (its WebGPU device was lost): the app hears of it,
   * and telemetry files its later counts under the new backend and reasons.
   */
  private async backendChanged(model: string, v: LoadedVersion, from: Backend): Promise<void> {
    const { backend, fallbacks } = v.result
    this.emit({ type: 'fallback', model, version: v.version, from, backend, fallbacks })
    const telemetry = this.telemetryNow
    const target = telemetry?.targetOf(v.key)
    if (v.result.fallbacks[from] === 'device_lost') this.health.deviceLost(telemetry, target)
    if (telemetry && target) await telemetry.retarget(v.key, { ...target, backend, fallbacks: { ...fallbacks } })
  }

  /** A version's load, watched for device health (client/health/device-health.ts). */
  private watchedLoad(assignment: Assignment, options: LoadOptions): Promise<LoadedVersion> {
    const backends = options.backends ?? defaultBackends(assignment.format)
    return this.health.watchLoad(assignment, backends, () => this.loader.load(assignment, options))
  }

  private retire(key: string): Promise<void> {
    return this.startedTelemetry()
      .then((t) => t?.retire(key))
      .catch(() => undefined)
  }

  async flush(): Promise<void> {
    await (await this.startedTelemetry())?.flush()
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
    await this.startedTelemetry()
      .then((t) => t?.close())
      .catch(() => undefined)
    await Promise.all([...this.models].map((m) => m.close()))
    if (this.host) (await this.host.catch(() => null))?.terminate()
    if (this.cache) (await this.cache.catch(() => null))?.close()
  }
}
