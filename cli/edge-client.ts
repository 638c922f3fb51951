import type * as z from 'zod'
import type { SliceDimension } from '../core/formats/slices.ts'
import { EdgefleetError } from '../core/errors.ts'
import { errorFromBody } from '../core/wire-error.ts'
import type { FleetView, Granularity } from '../core/formats/fleet.ts'
import type { PolicyView, RetrainPolicyInput } from '../core/formats/policy.ts'
import type { RolloutActionBody, RolloutConfig, RolloutView } from '../core/formats/rollout.ts'
import type { SloConfigInput, SloStatus, SloView } from '../core/formats/slo.ts'
import type { RolloutTransitionAction } from '../core/rollout/machine.ts'
import type {
  AliasMove,
  CreatedToken,
  CreateModel,
  CreateToken,
  EventPage,
  Manifest,
  Model,
  ModelDetail,
  ModelPage,
  PublishVersion,
  StoredArtifact,
  StoredVariant,
  Token,
} from '../core/formats/registry.ts'
import type { CreateRun, Run, RunPage } from '../core/formats/run.ts'
import type { CohortAllowList, CohortsView } from '../core/formats/cohort.ts'
import type { ArtifactUpload, CreateUpload, UploadedPart } from '../core/formats/artifact-uploads.ts'

/** The answer to a pin or unpin: where the cohort is pinned now (null: nowhere) and before. */
export interface CohortPinMove {
  model: string
  cohort: string
  version: number | null
  previous: number | null
}

export type { AliasMove, EventPage, ModelDetail, StoredArtifact, VersionSummary } from '../core/formats/registry.ts'

/** The body of `POST /v1/models/:model/rollouts`: a RolloutConfig, defaults optional. */
export type RolloutConfigInput = z.input<typeof RolloutConfig>

/** Filters and cursor of `GET /v1/events`. */
export interface EventQuery {
  model?: string
  type?: string
  after?: string
  limit?: number
}

/** Filters and cursor of `GET /v1/models/:model/runs`. */
export interface RunQuery {
  status?: string
  trigger?: string
  before?: string
  limit?: number
}

/** Range, version and step of `GET /v1/models/:model/telemetry`; times in ms since the epoch (the edge's defaults: the last 24 h, by hour). */
export interface FleetQuery {
  from?: number
  to?: number
  version?: number
  granularity?: Granularity
  /** Group every cohort by this slice dimension too (`slices` and `sliceGap` in the view). */
  slice?: SliceDimension
}

/** Where the edge is and how to call it; `fetch` is injectable so tests sit at the network edge. */
export interface EdgeClientOptions {
  url: string
  token?: string
  fetch?: typeof fetch
  /** Deadline of each call but uploads, in ms (default 60 s). */
  timeoutMs?: number
}

/** How long a call (other than an upload) may take before the command fails. */
export const DEFAULT_TIMEOUT_MS = 60_000

/** A typed client for the edge's registry routes; every failure is an EdgefleetError with the edge's code. */
export interface EdgeClient {
  readonly url: string
  listModels(): Promise<Model[]>
  getModel(model: string): Promise<ModelDetail>
  createModel(body: CreateModel): Promise<Model>
  hasArtifact(sha256: string): Promise<boolean>
  putArtifact(sha256: string, size: number, body: ReadableStream<Uint8Array> | Uint8Array): Promise<StoredArtifact>
  /** Starts a multipart upload of an artifact, or answers the one in progress (with the parts it holds). */
  createUpload(sha256: string, body: CreateUpload): Promise<ArtifactUpload>
  /** Sends one part of a multipart upload (exactly its size, streamed). */
  putUploadPart(
    upload: { sha256: string; uploadId: string },
    partNumber: number,
    size: number,
    body: ReadableStream<Uint8Array> | Uint8Array,
  ): Promise<UploadedPart>
  /** Assembles the parts; the edge stores them only if they hash to `sha256`. */
  completeUpload(upload: { sha256: string; uploadId: string }): Promise<StoredArtifact>
  /** Aborts a multipart upload and drops its parts. */
  abortUpload(upload: { sha256: string; uploadId: string }): Promise<void>
  /** Uploads an encoded copy of a stored artifact (the edge keeps it only if it decodes to the artifact). */
  putArtifactEncoding(sha256: string, encoding: 'gzip', body: Uint8Array): Promise<StoredVariant>
  publishVersion(model: string, body: PublishVersion): Promise<Manifest>
  getVersion(model: string, version: number): Promise<Manifest>
  /** The bytes of a stored artifact. */
  getArtifact(sha256: string): Promise<Uint8Array>
  /** Records a retraining run (200 with the stored run when its id was recorded before). */
  createRun(model: string, body: CreateRun): Promise<Run>
  listRuns(model: string, query?: RunQuery): Promise<RunPage>
  getRun(model: string, id: string): Promise<Run>
  deprecateVersion(model: string, version: number): Promise<Manifest>
  moveAlias(model: string, alias: string, version: number): Promise<AliasMove>
  getCohorts(model: string): Promise<CohortsView>
  putCohorts(model: string, body: CohortAllowList): Promise<CohortsView>
  pinCohort(model: string, cohort: string, version: number): Promise<CohortPinMove>
  unpinCohort(model: string, cohort: string): Promise<CohortPinMove>
  listEvents(query?: EventQuery): Promise<EventPage>
  createToken(body: CreateToken): Promise<CreatedToken>
  listTokens(): Promise<Token[]>
  revokeToken(id: string): Promise<Token>
  fleetView(model: string, query?: FleetQuery): Promise<FleetView>
  putPolicy(model: string, body: RetrainPolicyInput): Promise<PolicyView>
  getPolicy(model: string): Promise<PolicyView>
  evaluatePolicy(model: string, body: { closeOpenWindow: boolean }): Promise<PolicyView>
  putSlo(model: string, body: SloConfigInput): Promise<SloView>
  getSlo(model: string): Promise<SloView>
  /** The last evaluation of the SLOs: burn rates, states and error budget left per objective. */
  sloStatus(model: string): Promise<SloStatus>
  evaluateSlo(model: string, body?: { closeOpenWindow: boolean }): Promise<SloStatus>
  /** Starts a rollout; 409 `conflict` while another one of the model is running or paused. */
  startRollout(model: string, body: RolloutConfigInput): Promise<RolloutView>
  /** A rollout by id, or the model's newest with `current`. */
  getRollout(model: string, id?: string): Promise<RolloutView>
  /** pause, resume, advance, rollback or promote; `expectStep` makes it a compare-and-set on the step (409 otherwise). */
  actOnRollout(
    model: string,
    id: string,
    action: RolloutTransitionAction,
    body?: RolloutActionBody,
  ): Promise<RolloutView>
}

/** Methods sent again when their connection dropped before an answer. */
const IDEMPOTENT = new Set(['GET', 'HEAD'])
/** Errors of a connection that dropped before any answer came. */
const DROPPED = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'])

/** The code of the error behind Node's "fetch failed", if any. */
const causeCode = (e: unknown) => (e as { cause?: { code?: unknown } } | null)?.cause?.code

/**
 * Creates a client for the edge at `url`.
 *
 * @example const edge = createEdgeClient({ url: 'http://127.0.0.1:8787', token }); await edge.listModels()
 */
export function createEdgeClient(options: EdgeClientOptions): EdgeClient {
  const base = normalizeUrl(options.url)
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  const seg = encodeURIComponent
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS

  async function send(
    method: string,
    path: string,
    init: {
      json?: unknown
      body?: RequestInit['body']
      headers?: Record<string, string>
      /** Safe to send twice (a write the edge deduplicates, e.g. a run recorded by its id). */
      idempotent?: boolean
    } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...init.headers }
    if (options.token) headers.Authorization = `Bearer ${options.token}`
    let body = init.body
    if (init.json !== undefined) {
      body = JSON.stringify(init.json)
      headers['Content-Type'] = 'application/json'
    }
    // A streamed upload needs `duplex: 'half'` in Node's fetch (undici) and may take as long as it takes;
    // every other call gets a deadline, so a stuck edge fails the command instead of hanging it.
    const streamed = body instanceof ReadableStream
    const request: RequestInit & { duplex?: 'half' } = streamed
      ? { method, headers, body, duplex: 'half' }
      : { method, headers, body, signal: AbortSignal.timeout(timeoutMs) }
    try {
      try {
        return await doFetch(`${base}${path}`, request)
      } catch (first) {
        // A kept-alive connection the edge closed while this process was busy (training blocks the
        // event loop past the server's keep-alive timeout) fails before any answer (undici:
        // UND_ERR_SOCKET, "other side closed"): a read, or a write the edge deduplicates, goes once more.
        const safe = IDEMPOTENT.has(method) || init.idempotent === true
        if (streamed || !safe || !DROPPED.has(String(causeCode(first)))) throw first
        return await doFetch(`${base}${path}`, request)
      }
    } catch (cause) {
      if ((cause as { name?: unknown }).name === 'TimeoutError')
        throw new EdgefleetError(
          'network_error',
          `the edge at ${base} did not answer ${method} ${path} within ${timeoutMs / 1000} s`,
          { cause },
        )
      // Node's fetch says "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, bad port) is its cause.
      const inner = (cause as { cause?: { code?: unknown; message?: unknown } }).cause
      const reason = String(inner?.code ?? inner?.message ?? (cause instanceof Error ? cause.message : cause))
      throw new EdgefleetError(
        'network_error',
        `cannot reach the edge at ${base} (${reason}): start a local one with \`npm start\`, or point EDGEFLEET_URL (or --url) at yours`,
        { cause },
      )
    }
  }

  async function call<T>(method: string, path: string, init?: Parameters<typeof send>[2]): Promise<T> {
    const res = await send(method, path, init)
    if (!res.ok) throw await edgeError(res, method, path)
    return (await res.json()) as T
  }

  return {
    url: base,
    async listModels() {
      // Every page, 1,000 models at a time.
      const models: Model[] = []
      let after: string | null = null
      do {
        const page: ModelPage = await call<ModelPage>(
          'GET',
          `/v1/models?limit=1000${after === null ? '' : `&after=${encodeURIComponent(after)}`}`,
        )
        models.push(...page.models)
        // An edge from before pagination answers every model and no `next`.
        after = page.next ?? null
      } while (after !== null)
      return models
    },
    getModel: (model) => call('GET', `/v1/models/${seg(model)}`),
    createModel: (body) => call('POST', '/v1/models', { json: body }),
    async hasArtifact(sha256) {
      const path = `/v1/artifacts/${seg(sha256)}`
      const res = await send('HEAD', path)
      if (res.ok) return true
      if (res.status === 404) return false
      // A HEAD answer has no body to explain itself: ask for one byte to get the edge's error.
      const probe = await send('GET', path, { headers: { Range: 'bytes=0-0' } })
      if (!probe.ok) throw await edgeError(probe, 'GET', path)
      await probe.body?.cancel()
      return true
    },
    putArtifact: (sha256, size, body) =>
      call('PUT', `/v1/artifacts/${seg(sha256)}`, {
        body,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
      }),
    createUpload: (sha256, body) => call('POST', `/v1/artifacts/${seg(sha256)}/uploads`, { json: body }),
    putUploadPart: (u, partNumber, size, body) =>
      call('PUT', `/v1/artifacts/${seg(u.sha256)}/uploads/${seg(u.uploadId)}/parts/${partNumber}`, {
        body,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
      }),
    // Sent again only when the connection dropped before any answer; a second completion finds the
    // upload gone (`not_found`), which the caller checks against the stored artifact.
    completeUpload: (u) =>
      call('POST', `/v1/artifacts/${seg(u.sha256)}/uploads/${seg(u.uploadId)}/complete`, { idempotent: true }),
    async abortUpload(u) {
      const path = `/v1/artifacts/${seg(u.sha256)}/uploads/${seg(u.uploadId)}`
      const res = await send('DELETE', path, { idempotent: true })
      if (!res.ok) throw await edgeError(res, 'DELETE', path)
    },
    putArtifactEncoding: (sha256, encoding, body) =>
      call('PUT', `/v1/artifacts/${seg(sha256)}/encodings/${encoding}`, {
        body,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) },
      }),
    publishVersion: (model, body) => call('POST', `/v1/models/${seg(model)}/versions`, { json: body }),
    getVersion: (model, version) => call('GET', `/v1/models/${seg(model)}/versions/${version}`),
    async getArtifact(sha256) {
      const path = `/v1/artifacts/${seg(sha256)}`
      const res = await send('GET', path, { headers: { Accept: 'application/octet-stream' } })
      if (!res.ok) throw await edgeError(res, 'GET', path)
      return new Uint8Array(await res.arrayBuffer())
    },
    // The edge stores a run under the id the retrainer chose: sending it again returns the stored run.
    createRun: (model, body) => call('POST', `/v1/models/${seg(model)}/runs`, { json: body, idempotent: true }),
    listRuns: (model, query = {}) => call('GET', `/v1/models/${seg(model)}/runs${queryString(query)}`),
    getRun: (model, id) => call('GET', `/v1/models/${seg(model)}/runs/${seg(id)}`),
    deprecateVersion: (model, version) =>
      call('PATCH', `/v1/models/${seg(model)}/versions/${version}`, { json: { deprecated: true } }),
    moveAlias: (model, alias, version) =>
      call('PUT', `/v1/models/${seg(model)}/aliases/${seg(alias)}`, { json: { version } }),
    getCohorts: (model) => call('GET', `/v1/models/${seg(model)}/cohorts`),
    putCohorts: (model, body) => call('PUT', `/v1/models/${seg(model)}/cohorts`, { json: body }),
    pinCohort: (model, cohort, version) =>
      call('PUT', `/v1/models/${seg(model)}/cohorts/${seg(cohort)}/pin`, { json: { version } }),
    unpinCohort: (model, cohort) => call('DELETE', `/v1/models/${seg(model)}/cohorts/${seg(cohort)}/pin`),
    listEvents: (query = {}) => call('GET', `/v1/events${queryString(query)}`),
    createToken: (body) => call('POST', '/v1/tokens', { json: body }),
    listTokens: async () => (await call<{ tokens: Token[] }>('GET', '/v1/tokens')).tokens,
    revokeToken: (id) => call('DELETE', `/v1/tokens/${seg(id)}`),
    fleetView: (model, query = {}) => call('GET', `/v1/models/${seg(model)}/telemetry${queryString(query)}`),
    putPolicy: (model, body) => call('PUT', `/v1/models/${seg(model)}/policy`, { json: body }),
    getPolicy: (model) => call('GET', `/v1/models/${seg(model)}/policy`),
    evaluatePolicy: (model, body) => call('POST', `/v1/models/${seg(model)}/policy/evaluate`, { json: body }),
    putSlo: (model, body) => call('PUT', `/v1/models/${seg(model)}/slo`, { json: body }),
    getSlo: (model) => call('GET', `/v1/models/${seg(model)}/slo`),
    sloStatus: (model) => call('GET', `/v1/models/${seg(model)}/slo/status`),
    evaluateSlo: (model, body = { closeOpenWindow: false }) =>
      call('POST', `/v1/models/${seg(model)}/slo/evaluate`, { json: body }),
    startRollout: (model, body) => call('POST', `/v1/models/${seg(model)}/rollouts`, { json: body }),
    getRollout: (model, id = 'current') => call('GET', `/v1/models/${seg(model)}/rollouts/${seg(id)}`),
    actOnRollout: (model, id, action, body = {}) =>
      call('POST', `/v1/models/${seg(model)}/rollouts/${seg(id)}/${action}`, { json: body }),
  }
}

/** The edge's error answer as an EdgefleetError (core/wire-error.ts); a body that is not JSON says only the status. */
async function edgeError(res: Response, method: string, path: string): Promise<EdgefleetError> {
  const text = await res.text().catch(() => '')
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON: a proxy's page, or no body at all
  }
  return errorFromBody(
    body,
    res.status,
    `${method} ${path} answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`,
  )
}

/** `?a=1&b=2` from the defined entries of `query`, or '' when there are none. */
function queryString(query: object): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v))
  const qs = params.toString()
  return qs === '' ? '' : `?${qs}`
}

function normalizeUrl(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new EdgefleetError('bad_request', `--url: "${url}" is not a URL (e.g. http://127.0.0.1:8787)`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new EdgefleetError('bad_request', `--url: "${url}" is not an http(s) URL`)
  return parsed.href.replace(/\/+$/, '')
}
