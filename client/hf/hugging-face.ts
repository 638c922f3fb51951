/**
 * @module
 * `fleet.huggingFace(model, { env })`: makes an `hf-onnx` version available to the app's own
 * transformers.js. edgefleet asks the edge which version this device runs (offline: the last one it
 * ran), downloads every file it needs and verifies it by SHA-256 before storing it in IndexedDB, then
 * points transformers.js's custom cache at those files. transformers.js and its onnxruntime-web (the
 * app's) run the model; edgefleet starts no worker and loads no engine for it.
 */
import { EdgefleetError, isEdgefleetError } from '../../core/errors.ts'
import type { Assignment } from '../../core/formats/assignment.ts'
import type { AssignmentAnswer } from '../assignment.ts'
import type { ModelCache } from '../cache.ts'
import { downloadVerified } from '../download.ts'
import type { SignedVersions } from '../signed-versions.ts'
import type { WorkerlessCounter } from '../telemetry/workerless-counter.ts'
import type { TelemetryProcessor } from '../telemetry/processor.ts'
import type { FleetEvent } from '../types.ts'
import type { HuggingFaceModel, HuggingFaceOptions, TransformersEnv } from './types.ts'
import { VerifiedCache, type ServedFile } from './verified-cache.ts'

/** What loading a Hugging Face version needs from the fleet. */
export interface HuggingFaceDeps {
  cache(): Promise<ModelCache>
  /** The edge's answer for `model` (offline: a `network_error`). */
  ask(model: string, etag: string | undefined): Promise<AssignmentAnswer>
  appKey: string
  fetch?: typeof fetch
  signed?: SignedVersions
  emit(event: FleetEvent): void
  telemetry(): Promise<TelemetryProcessor | null>
  /** Where a telemetry key's calls are counted when transformers.js runs the model (no worker has them). */
  counterFor(key: string): InferenceCounter
}

/** What `observe` counts into: see WorkerlessCounter. */
export type InferenceCounter = Pick<WorkerlessCounter, 'ran' | 'failed'>

/** The id transformers.js is given for an edgefleet model: its name under the `edgefleet` namespace. */
export const hubIdOf = (model: string) => `edgefleet/${model}`

const servedBy = new WeakMap<object, VerifiedCache>()
const wrappedFetch = new WeakSet<object>()

/** Loads the version of `model` this device runs and serves its files to transformers.js (see the module). */
export async function loadHuggingFace(
  deps: HuggingFaceDeps,
  model: string,
  options: HuggingFaceOptions,
): Promise<HuggingFaceModel> {
  const env = checkEnv(options?.env)
  const started = performance.now()
  const cache = await deps.cache()
  const record = await cache.getModel(model)
  let assignment: Assignment
  let fresh: { etag?: string } | null = null
  let from: 'edge' | 'cache' = 'edge'
  try {
    const answer = await deps.ask(model, record?.etag)
    if (answer.status === 'changed') {
      assignment = answer.assignment
      fresh = { etag: answer.etag }
    } else if (record) {
      assignment = record.current
      await cache.touchAssignment(model, Date.now())
    } else throw new EdgefleetError('network_error', 'the edge answered 304 to a request without an ETag')
  } catch (e) {
    if (!record || !isEdgefleetError(e) || e.code !== 'network_error') throw e
    assignment = record.current
    from = 'cache'
    deps.emit({ type: 'offline', model, version: assignment.version, reason: e.message })
  }
  if (assignment.format !== 'hf-onnx')
    throw new EdgefleetError(
      'bad_request',
      `model "${model}" is ${assignment.format}, not a Hugging Face folder: load it with fleet.load()`,
    )

  let files: Map<string, ServedFile>
  let downloadedBytes: number
  try {
    ;({ files, downloadedBytes } = await fetchFiles(deps, cache, assignment, options))
  } catch (e) {
    // A new version that cannot be fetched or verified never replaces one that worked.
    const fallback = record?.current
    if (!fallback || fallback.version === assignment.version || fallback.format !== 'hf-onnx' || !isEdgefleetError(e))
      throw e
    deps.emit({ type: 'error', model, code: e.code, message: e.message })
    assignment = fallback
    fresh = null
    ;({ files, downloadedBytes } = await fetchFiles(deps, cache, assignment, options))
  }
  if (fresh) await cache.putAssignment(model, assignment, fresh.etag, Date.now())

  const id = hubIdOf(model)
  serve(env, cache, id, files)
  if (options.wasmPaths !== undefined) {
    env.backends.onnx.wasm ??= {}
    env.backends.onnx.wasm.wasmPaths = options.wasmPaths
  }

  const backend = options.device ?? 'wasm'
  deps.emit({
    type: 'loaded',
    model,
    role: 'primary',
    version: assignment.version,
    backend,
    fallbacks: {},
    assignment: from,
    downloadedBytes,
  })
  const telemetry = await deps.telemetry().catch(() => null)
  const key = `${model}@${assignment.version}#hf`
  let counter: InferenceCounter | undefined
  if (telemetry) {
    const rollout = assignment.rollout ? { id: assignment.rollout.id, arm: assignment.rollout.arm } : undefined
    const target = { model, version: assignment.version, role: 'primary' as const, backend, fallbacks: {} }
    // Registered before any await: a collect of the key must never ask a worker for it.
    if (telemetry.track(key, rollout ? { ...target, rollout } : target, assignment.telemetry)) {
      counter = deps.counterFor(key)
      telemetry.noteLoad(key, { ms: performance.now() - started, cacheHit: downloadedBytes === 0 })
    }
  }
  return {
    id,
    model,
    version: assignment.version,
    files: [...files.keys()],
    assignment: from,
    downloadedBytes,
    observe: (run) => observed(run, counter),
  }
}

/**
 * `run` behind a proxy that counts each call into `counter` (none: sampled out or telemetry off), so
 * the pipeline keeps its properties and methods. A call's inputs are its first argument's elements
 * when it is an array, else one.
 */
function observed<F extends (...args: never[]) => Promise<unknown>>(run: F, counter: InferenceCounter | undefined): F {
  if (typeof run !== 'function')
    throw new EdgefleetError('bad_request', 'observe() takes the function that runs the model (a pipeline)', {
      pointer: '/run',
    })
  return new Proxy(run, {
    apply(target, self, args: unknown[]) {
      const count = Array.isArray(args[0]) ? args[0].length : 1
      const started = performance.now()
      let result: unknown
      try {
        result = Reflect.apply(target, self, args)
      } catch (e) {
        counter?.failed(count)
        throw e
      }
      return Promise.resolve(result).then(
        (value) => {
          counter?.ran(count, performance.now() - started)
          return value
        },
        (e: unknown) => {
          counter?.failed(count)
          throw e
        },
      )
    },
  })
}

/** The version's files (of the weight types asked for) from the cache, or downloaded and verified. */
async function fetchFiles(
  deps: HuggingFaceDeps,
  cache: ModelCache,
  assignment: Assignment,
  options: HuggingFaceOptions,
): Promise<{ files: Map<string, ServedFile>; downloadedBytes: number }> {
  await deps.signed?.check(assignment)
  const dtypes = options.dtype === undefined ? null : new Set([options.dtype].flat())
  const wanted = assignment.files.filter((f) => dtypes === null || f.dtype === undefined || dtypes.has(f.dtype))
  if (!wanted.some((f) => f.role === 'onnx'))
    throw new EdgefleetError(
      'not_found',
      `${assignment.model} v${assignment.version} has no ONNX graph of dtype ${[...(dtypes ?? [])].join(', ')}`,
      { pointer: '/dtype' },
    )
  cache.pin(wanted.map((f) => f.sha256))
  const files = new Map<string, ServedFile>()
  const missing: typeof wanted = []
  for (const f of wanted) {
    const cached = await cache.getFile(f.sha256, f.size)
    if (cached.bytes) files.set(f.path, { sha256: f.sha256, size: f.size })
    else missing.push(f)
    if (cached.corrupt)
      deps.emit({
        type: 'error',
        model: assignment.model,
        code: 'integrity_error',
        message: `the cached copy of ${f.path} did not match its SHA-256; it was deleted and is downloaded again`,
      })
  }
  const progress = { loaded: 0, total: missing.reduce((a, f) => a + f.size, 0) }
  if (missing.length) options.onProgress?.({ ...progress })
  const protect = wanted.map((f) => f.sha256)
  for (const f of missing) {
    const bytes = await downloadVerified(f.url, f, {
      headers: { 'X-Edgefleet-Key': deps.appKey },
      fetch: deps.fetch,
      partials: cache.partials,
      onBytes: (n) => {
        progress.loaded += n
        options.onProgress?.({ ...progress })
      },
    })
    try {
      await cache.putFile(f.sha256, bytes, protect)
      files.set(f.path, { sha256: f.sha256, size: f.size })
    } catch (e) {
      if (!isEdgefleetError(e) || e.code !== 'quota_exceeded') throw e
      // Verified bytes with no room on disk still serve this page; the offline copy is lost.
      deps.emit({ type: 'error', model: assignment.model, code: e.code, message: e.message })
      files.set(f.path, { sha256: f.sha256, size: f.size, bytes })
    }
  }
  return { files, downloadedBytes: progress.total }
}

/**
 * Points transformers.js at the files: its custom cache answers for `id`'s files, and a request for a
 * file the version does not hold (an optional one, such as `generation_config.json`) is a 404 from
 * here, never a request to the hub.
 */
function serve(env: TransformersEnv, cache: ModelCache, id: string, files: Map<string, ServedFile>): void {
  let verified = servedBy.get(env)
  if (!verified || env.customCache !== verified) {
    verified = new VerifiedCache(cache)
    servedBy.set(env, verified)
  }
  const template = env.remotePathTemplate.replaceAll('{model}', id).replaceAll('{revision}', 'main')
  const prefix = `${env.remoteHost.replace(/\/+$/, '')}/${template.replace(/^\/+/, '').replace(/\/*$/, '/')}`
  verified.serve(prefix, files)
  env.customCache = verified
  env.useCustomCache = true
  env.allowRemoteModels = true
  if (!wrappedFetch.has(env)) {
    const appFetch = env.fetch
    const own = verified
    env.fetch = (input, init) =>
      own.owns(String(input)) ? Promise.resolve(new Response(null, { status: 404 })) : appFetch(input, init)
    wrappedFetch.add(env)
  }
}

/** The app's transformers.js `env`, or `bad_request` naming what is missing. */
function checkEnv(env: unknown): TransformersEnv {
  const e = env as Partial<TransformersEnv> | undefined
  if (
    typeof e !== 'object' ||
    e === null ||
    typeof e.remoteHost !== 'string' ||
    typeof e.remotePathTemplate !== 'string' ||
    typeof e.fetch !== 'function' ||
    typeof e.backends?.onnx !== 'object'
  )
    throw new EdgefleetError(
      'bad_request',
      "options.env must be transformers.js's env (import { env } from '@huggingface/transformers')",
      { pointer: '/env' },
    )
  return e as TransformersEnv
}
