import { createHash } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import { vi } from 'vitest'
import { run } from '../../cli/main.ts'
import { ERROR_STATUS, isEdgefleetError } from '../../core/errors.ts'
import { RetrainPolicy } from '../../core/formats/policy.ts'
import { RolloutActionBody, RolloutConfig } from '../../core/formats/rollout.ts'
import { SloConfig } from '../../core/formats/slo.ts'
import { jsonPointer } from '../../core/json-pointer.ts'
import type { RolloutTransitionAction } from '../../core/rollout/machine.ts'
import { FakeRollouts } from './fake-rollouts.ts'

/** A request the fake edge received. */
export interface Received {
  method: string
  path: string
  search: string
  headers: Headers
  body: Uint8Array | null
}

type Handler = (req: Received, params: string[]) => Response | Promise<Response>

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
const error = (status: number, code: string, message: string, pointer?: string) =>
  json({ error: pointer === undefined ? { code, message } : { code, message, pointer } }, status)

/** The answer of a call that may throw an EdgefleetError: its error body and status, as the edge maps them. */
function edgeCall(f: () => Response): Response {
  try {
    return f()
  } catch (e) {
    if (!isEdgefleetError(e)) throw e
    return error(ERROR_STATUS[e.code], e.code, e.message, e.pointer)
  }
}

/**
 * An in-memory stand-in for the edge's registry routes, installed as `fetch`: the only mock of the
 * CLI's unit tests, sitting at the network boundary. It keeps the edge's rules that the CLI relies on
 * (content addressing, Content-Length, 404 for unknown models, error bodies) and records every request.
 */
export class FakeEdge {
  readonly requests: Received[] = []
  readonly artifacts = new Map<string, Uint8Array>()
  /** gzip copies by artifact hash, stored only when they decode to the artifact (as the edge does). */
  readonly gzipCopies = new Map<string, Uint8Array>()
  readonly models = new Map<
    string,
    { name: string; format: string; task: string; signature: unknown; versions: any[]; aliases: Record<string, number> }
  >()
  events: {
    id: string
    seq: number
    type: string
    model: string | null
    actor: string
    at: number
    details: Record<string, unknown>
  }[] = []
  tokens: any[] = []
  /** The FleetView each model's telemetry route answers (404 for a model without one). */
  readonly fleetViews = new Map<string, unknown>()
  /** Stored policies as the edge returns them (PolicyView, secret redacted). */
  readonly policies = new Map<string, any>()
  /** Stored SLOs as the edge returns them (SloView, secret redacted), and their statuses (SloStatus). */
  readonly slos = new Map<string, any>()
  readonly sloStatuses = new Map<string, any>()
  /** Rollouts per model, moved by core's state machine and judged by core's `decide` (see fake-rollouts.ts). */
  readonly rollouts = new FakeRollouts()
  /** Called on each request before routing (e.g. to append events while a command follows). */
  onRequest: (req: Received) => void = () => undefined
  private readonly routes: [string, RegExp, Handler][] = []
  private readonly overrides: [string, RegExp, Response][] = []

  constructor(
    readonly origin = 'http://edge.test',
    readonly token = 'secret-admin',
  ) {
    this.route('GET', /^\/v1\/models$/, () =>
      json({ models: [...this.models.values()].map((m) => this.modelOf(m.name)) }),
    )
    this.route('GET', /^\/v1\/models\/([^/]+)$/, (_, [name]) =>
      this.models.has(name)
        ? json({ ...this.modelOf(name), versions: this.summaries(name), rollout: null })
        : error(404, 'not_found', `model "${name}" does not exist`),
    )
    this.route('POST', /^\/v1\/models$/, (req) => {
      const body = JSON.parse(new TextDecoder().decode(req.body!))
      if (this.models.has(body.name)) return error(409, 'conflict', 'exists', '/name')
      this.models.set(body.name, {
        name: body.name,
        format: body.format,
        task: body.task ?? 'generic',
        signature: body.signature ?? null,
        versions: [],
        aliases: {},
      })
      return json(this.modelOf(body.name), 201)
    })
    this.route('GET', /^\/v1\/artifacts\/([0-9a-f]{64})$/, (_, [sha]) =>
      this.artifacts.has(sha)
        ? new Response(this.artifacts.get(sha)!.slice())
        : error(404, 'not_found', `no artifact ${sha}`),
    )
    this.route(
      'HEAD',
      /^\/v1\/artifacts\/([0-9a-f]{64})$/,
      (_, [sha]) => new Response(null, { status: this.artifacts.has(sha) ? 200 : 404 }),
    )
    this.route('PUT', /^\/v1\/artifacts\/([0-9a-f]{64})\/encodings\/gzip$/, (req, [sha]) => {
      const original = this.artifacts.get(sha)
      if (!original) return error(400, 'artifact_missing', 'upload the artifact first')
      const encoded = req.body!
      if (!Buffer.from(gunzipSync(encoded)).equals(Buffer.from(original)))
        return error(400, 'hash_mismatch', 'the copy does not decode to the artifact')
      this.gzipCopies.set(sha, encoded)
      return json({ sha256: sha, encoding: 'gzip', size: encoded.length, created: true }, 201)
    })
    this.route('PUT', /^\/v1\/artifacts\/([0-9a-f]{64})$/, (req, [sha]) => {
      const length = req.headers.get('Content-Length')
      if (length === null) return error(411, 'length_required', 'uploads need a Content-Length header')
      const bytes = req.body ?? new Uint8Array()
      if (bytes.length !== Number(length) || createHash('sha256').update(bytes).digest('hex') !== sha)
        return error(400, 'hash_mismatch', 'the bytes do not hash to the name')
      const created = !this.artifacts.has(sha)
      this.artifacts.set(sha, bytes)
      return json({ sha256: sha, size: bytes.length, created }, created ? 201 : 200)
    })
    this.route('POST', /^\/v1\/models\/([^/]+)\/versions$/, (req, [name]) => {
      const m = this.models.get(name)
      if (!m) return error(404, 'not_found', `model "${name}" does not exist`)
      const body = JSON.parse(new TextDecoder().decode(req.body!))
      const missing = body.files.findIndex((f: any) => !this.artifacts.has(f.sha256))
      if (missing >= 0) return error(400, 'artifact_missing', 'upload it first', `/files/${missing}/sha256`)
      const version = {
        ...body,
        version: m.versions.length + 1,
        deprecated: false,
        createdAt: Date.UTC(2026, 3, 26, 12, m.versions.length),
      }
      m.versions.push(version)
      return json(this.manifestOf(name, version), 201)
    })
    this.route('GET', /^\/v1\/models\/([^/]+)\/versions\/(\d+)$/, (_req, [name, n]) => {
      const v = this.models.get(name)?.versions[Number(n) - 1]
      return v ? json(this.manifestOf(name, v)) : error(404, 'not_found', `version ${n} of "${name}" does not exist`)
    })
    this.route('PUT', /^\/v1\/models\/([^/]+)\/aliases\/([^/]+)$/, (req, [name, alias]) => {
      const { version } = JSON.parse(new TextDecoder().decode(req.body!))
      const m = this.models.get(name)!
      if (m.versions[version - 1]?.deprecated)
        return error(409, 'deprecated', `version ${version} is deprecated and cannot be aliased`, '/version')
      const previous = m.aliases[alias] ?? null
      m.aliases[alias] = version
      return json({ model: name, alias, version, previous })
    })
    this.route('GET', /^\/v1\/events$/, (req) => {
      const q = new URLSearchParams(req.search)
      const after = Number(q.get('after') ?? 0)
      const limit = Number(q.get('limit') ?? 100)
      const rest = this.events.filter((e) => e.seq > after)
      const page = rest.slice(0, limit)
      return json({
        events: page,
        next: page.length ? String(page.at(-1)!.seq) : q.get('after'),
        hasMore: rest.length > limit,
      })
    })
    this.route('GET', /^\/v1\/models\/([^/]+)\/telemetry$/, (_, [name]) =>
      this.fleetViews.has(name)
        ? json(this.fleetViews.get(name))
        : error(404, 'not_found', `model "${name}" does not exist`),
    )
    this.route('PUT', /^\/v1\/models\/([^/]+)\/policy$/, (req, [name]) => {
      if (!this.models.has(name)) return error(404, 'not_found', `model "${name}" does not exist`)
      const parsed = RetrainPolicy.safeParse(JSON.parse(new TextDecoder().decode(req.body!)))
      if (!parsed.success) return error(400, 'validation_failed', parsed.error.issues[0].message)
      const p = parsed.data
      const view = {
        model: name,
        ...p,
        webhook: p.webhook === undefined ? undefined : { url: p.webhook.url, secret: '<redacted>' },
        revision: (this.policies.get(name)?.revision ?? 0) + 1,
        updatedAt: Date.UTC(2026, 3, 26, 12),
        updatedBy: 'admin',
        state: {
          lastEvaluatedAt: null,
          lastFiredAt: null,
          lastEventId: null,
          cooldownUntil: null,
          nextEvaluationAt: Date.UTC(2026, 3, 26, 13, 5),
          lastResult: null,
        },
      }
      this.policies.set(name, view)
      return json(view)
    })
    this.route('GET', /^\/v1\/models\/([^/]+)\/policy$/, (_, [name]) =>
      this.policies.has(name)
        ? json(this.policies.get(name))
        : error(404, 'not_found', `model "${name}" has no retraining policy`),
    )
    this.route('PUT', /^\/v1\/models\/([^/]+)\/slo$/, (req, [name]) => {
      if (!this.models.has(name)) return error(404, 'not_found', `model "${name}" does not exist`)
      const parsed = SloConfig.safeParse(JSON.parse(new TextDecoder().decode(req.body!)))
      if (!parsed.success)
        return error(400, 'validation_failed', parsed.error.issues[0].message, jsonPointer(parsed.error.issues[0].path))
      const { webhook, ...rest } = parsed.data
      const view = {
        model: name,
        ...rest,
        ...(webhook === undefined ? {} : { webhook: { url: webhook.url, secret: '<redacted>' } }),
        revision: (this.slos.get(name)?.revision ?? 0) + 1,
        updatedAt: Date.UTC(2026, 3, 26, 12),
        updatedBy: 'admin',
        lastEvaluatedAt: Date.UTC(2026, 3, 26, 12),
        nextEvaluationAt: Date.UTC(2026, 3, 26, 12, 1),
      }
      this.slos.set(name, view)
      return json(view)
    })
    this.route('GET', /^\/v1\/models\/([^/]+)\/slo$/, (_, [name]) =>
      this.slos.has(name) ? json(this.slos.get(name)) : error(404, 'not_found', `model "${name}" has no SLOs`),
    )
    this.route('GET', /^\/v1\/models\/([^/]+)\/slo\/status$/, (_, [name]) =>
      this.sloStatuses.has(name)
        ? json(this.sloStatuses.get(name))
        : error(404, 'not_found', `model "${name}" has no evaluated SLOs`),
    )
    this.route('POST', /^\/v1\/models\/([^/]+)\/slo\/evaluate$/, (_, [name]) =>
      this.sloStatuses.has(name)
        ? json(this.sloStatuses.get(name))
        : error(404, 'not_found', `model "${name}" has no SLOs`),
    )
    this.route('POST', /^\/v1\/models\/([^/]+)\/rollouts$/, (req, [name]) => {
      if (!this.models.has(name)) return error(404, 'not_found', `model "${name}" does not exist`)
      const parsed = RolloutConfig.safeParse(JSON.parse(new TextDecoder().decode(req.body!)))
      if (!parsed.success)
        return error(400, 'validation_failed', parsed.error.issues[0].message, jsonPointer(parsed.error.issues[0].path))
      const baseline = parsed.data.baseline ?? this.models.get(name)!.aliases.production
      if (baseline === undefined)
        return error(
          409,
          'conflict',
          `model "${name}" has no production version to roll out against: set one or pass "baseline"`,
          '/baseline',
        )
      if (baseline === parsed.data.candidate)
        return error(400, 'validation_failed', `candidate and baseline are both version ${baseline}`, '/candidate')
      return edgeCall(() => json(this.rollouts.start(name, { ...parsed.data, baseline }, 'admin'), 201))
    })
    this.route('GET', /^\/v1\/models\/([^/]+)\/rollouts\/([^/]+)$/, (_, [name, id]) => {
      const view = this.rollouts.get(name, id)
      return view
        ? json(view)
        : error(
            404,
            'not_found',
            id === 'current' ? `model "${name}" has no rollout` : `rollout ${id} of model "${name}" does not exist`,
          )
    })
    this.route(
      'POST',
      /^\/v1\/models\/([^/]+)\/rollouts\/([^/]+)\/(pause|resume|advance|rollback|promote)$/,
      (req, [name, id, action]) => {
        const text = req.body === null ? '' : new TextDecoder().decode(req.body)
        const parsed = RolloutActionBody.safeParse(text === '' ? {} : JSON.parse(text))
        if (!parsed.success)
          return error(
            400,
            'validation_failed',
            parsed.error.issues[0].message,
            jsonPointer(parsed.error.issues[0].path),
          )
        return edgeCall(() =>
          json(this.rollouts.act(name, id, action as RolloutTransitionAction, parsed.data, 'admin')),
        )
      },
    )
    this.route('POST', /^\/v1\/tokens$/, (req) => {
      const body = JSON.parse(new TextDecoder().decode(req.body!))
      const token = {
        id: `tok_${String(this.tokens.length).padStart(16, '0')}`,
        ...body,
        origins: body.origins ?? null,
        createdAt: 0,
        createdBy: 'admin',
        lastUsedAt: null,
        revokedAt: null,
      }
      this.tokens.push(token)
      return json({ ...token, token: 'ef_the-secret' }, 201)
    })
    this.route('GET', /^\/v1\/tokens$/, () => json({ tokens: this.tokens }))
    this.route('DELETE', /^\/v1\/tokens\/([^/]+)$/, (_, [id]) => {
      const t = this.tokens.find((x) => x.id === id)
      if (!t) return error(404, 'not_found', `token ${id} does not exist`)
      t.revokedAt ??= 1
      return json(t)
    })
  }

  /** The fake as a `fetch` function. */
  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    const url = new URL(request.url)
    const body = request.body === null ? null : new Uint8Array(await request.arrayBuffer())
    const req: Received = {
      method: request.method,
      path: url.pathname,
      search: url.search,
      headers: request.headers,
      body,
    }
    this.requests.push(req)
    this.onRequest(req)
    if (url.origin !== this.origin)
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }),
      })
    for (const [method, path, res] of this.overrides)
      if (method === req.method && path.test(req.path)) return res.clone()
    if (request.headers.get('Authorization') !== `Bearer ${this.token}`)
      return error(401, 'unauthorized', 'the token is unknown or revoked')
    for (const [method, path, handler] of this.routes) {
      const m = method === req.method ? path.exec(req.path) : null
      if (m) return handler(req, m.slice(1).map(decodeURIComponent))
    }
    return error(404, 'not_found', `no route for ${req.method} ${req.path}`)
  }

  /** Answers `method path` with `res` from now on. */
  answer(method: string, path: RegExp, res: Response): void {
    this.overrides.unshift([method, path, res])
  }

  /** The requests made with one of `methods` (all when none), as `METHOD /path` lines. */
  calls(...methods: string[]): string[] {
    return this.requests
      .filter((r) => methods.length === 0 || methods.includes(r.method))
      .map((r) => `${r.method} ${r.path}`)
  }

  private route(method: string, path: RegExp, handler: Handler): void {
    this.routes.push([method, path, handler])
  }

  private modelOf(name: string) {
    const m = this.models.get(name)!
    return {
      name,
      format: m.format,
      task: m.task,
      signature: m.signature,
      description: '',
      createdAt: 0,
      createdBy: 'admin',
      latestVersion: m.versions.length || null,
      aliases: m.aliases,
    }
  }

  private summaries(name: string) {
    const m = this.models.get(name)!
    return [...m.versions].reverse().map((v) => ({
      version: v.version,
      files: v.files.length,
      size: v.files.reduce((a: number, f: any) => a + f.size, 0),
      createdAt: v.createdAt,
      createdBy: 'admin',
      parent: v.lineage?.parent ?? null,
      deprecated: v.deprecated,
      aliases: Object.entries(m.aliases)
        .filter(([, n]) => n === v.version)
        .map(([a]) => a),
      metrics: v.metrics ?? {},
    }))
  }

  private manifestOf(name: string, v: any) {
    const files = v.files.map((f: any) => ({ ...f, url: `${this.origin}/v1/artifacts/${f.sha256}` }))
    return {
      model: name,
      version: v.version,
      format: this.models.get(name)!.format,
      files,
      signature: v.signature ?? null,
      profile: v.profile ?? null,
      interface: v.interface ?? null,
      metrics: v.metrics ?? {},
      lineage: { ...v.lineage, createdBy: 'admin', createdAt: v.createdAt },
      deprecated: false,
      deprecatedAt: null,
      aliases: [],
    }
  }
}

/** Routes every fetch to `edge` and points the CLI's EDGEFLEET_URL/TOKEN at it; returns the undo (a beforeEach cleanup). */
export function useFakeEdge(edge: FakeEdge): () => void {
  vi.stubGlobal('fetch', edge.fetch)
  vi.stubEnv('EDGEFLEET_URL', edge.origin)
  vi.stubEnv('EDGEFLEET_TOKEN', edge.token)
  return () => {
    vi.unstubAllGlobals()
    vi.unstubAllEnvs()
  }
}

/** Runs the `edgefleet` CLI in-process, capturing its exit code, stdout and stderr. */
export async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await run(['node', 'edgefleet', ...args], { out: (t) => void (out += t), err: (t) => void (err += t) })
  return { code, out, err }
}
