/**
 * @module
 * The edge as the HTTP benches run it: the bench build of the Worker (edge/bench/worker.ts: the real app
 * plus the baseline routes, only with `BENCH_ROUTES = "on"`) bundled by `wrangler deploy --dry-run` and
 * served by Miniflare started in Node (never through `wrangler dev`'s proxy), D1 and Durable Objects
 * persisted on disk so every write is a committed transaction, migrations applied; and autocannon, an npm
 * load generator, to drive it.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readD1Migrations } from '@cloudflare/vitest-pool-workers'
import autocannon from 'autocannon'
import { Miniflare } from 'miniflare'

export const root = fileURLToPath(new URL('..', import.meta.url))
export const ADMIN = 'bench-admin-token'

/** A running bench edge. */
export interface BenchEdge {
  base: string
  mf: Miniflare
  /** Where its Worker bundle is. */
  bundle: string
  /** Where its D1, R2 and Durable Object state persists. */
  state: string
  /** An admin call; throws on a status ≥ 300. */
  call(method: string, path: string, body?: unknown, token?: string): Promise<Record<string, unknown>>
  dispose(): Promise<void>
}

/** Builds the bench Worker into `out` and serves it from Miniflare with its state under `state`. */
export async function startBenchEdge(o: {
  out: string
  state?: string
  shards?: number
  bindings?: Record<string, string>
  /** A bundle already built by another BenchEdge (its `bundle`), so several edges run the same code. */
  bundle?: string
  /** Rate-limit bindings to use instead of limits out of reach (`npm run bench -- load` keeps the device limit real). */
  ratelimits?: Record<string, { simple: { limit: number; period: 10 | 60 } }>
}): Promise<BenchEdge> {
  const state = o.state ?? join(o.out, 'state')
  rmSync(o.out, { recursive: true, force: true })
  mkdirSync(o.out, { recursive: true })
  rmSync(state, { recursive: true, force: true })
  mkdirSync(state, { recursive: true })
  const bundle = o.bundle ?? join(o.out, 'bundle')
  const build = o.bundle
    ? { status: 0, stderr: '' }
    : spawnSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', join(o.out, 'bundle'), 'edge/bench/worker.ts'], {
        cwd: root,
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_LOG_PATH: join(o.out, 'logs') },
        encoding: 'utf8',
      })
  if (build.status !== 0) throw new Error(`wrangler build failed:\n${build.stderr}`)
  const mf = new Miniflare({
    modules: true,
    scriptPath: join(bundle, 'worker.js'),
    compatibilityDate: '2026-04-20',
    host: '127.0.0.1',
    port: 0,
    defaultPersistRoot: state,
    d1Databases: { DB: 'edgefleet' },
    r2Buckets: { ARTIFACTS: 'edgefleet-artifacts' },
    durableObjects: {
      TELEMETRY_SHARD: { className: 'TelemetryShard', useSQLite: true },
      MODEL_CONTROL: { className: 'ModelControl', useSQLite: true },
      BENCH_MEMORY: { className: 'MemorySink', useSQLite: true },
    },
    queueProducers: { RETRAIN_QUEUE: { queueName: 'edgefleet-retrain' } },
    // Real bindings, limits out of reach: the benches measure the path, not the limiter's refusals.
    ratelimits: {
      KEY_RATE_LIMIT: { simple: { limit: 1e9, period: 10 } },
      DEVICE_RATE_LIMIT: { simple: { limit: 1e9, period: 60 } },
      CLIENT_RATE_LIMIT: { simple: { limit: 1e9, period: 60 } },
      ...o.ratelimits,
    },
    bindings: {
      ENVIRONMENT: 'development',
      EDGEFLEET_ADMIN_TOKEN: ADMIN,
      TELEMETRY_SHARDS: String(o.shards ?? 1),
      TELEMETRY_MIN_DEVICES: '5',
      APP_KEY_CACHE_SECONDS: '5',
      BENCH_ROUTES: 'on',
      ...o.bindings,
    },
  })
  const base = (await mf.ready).toString().replace(/\/$/, '')
  const db = await mf.getD1Database('DB')
  for (const m of await readD1Migrations(join(root, 'edge/migrations')))
    await db.batch(m.queries.map((q) => db.prepare(q)))
  const call: BenchEdge['call'] = async (method, path, body, token = ADMIN) => {
    const res = await fetch(base + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    })
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
    return res.json() as Promise<Record<string, unknown>>
  }
  return { base, mf, call, bundle, state, dispose: () => mf.dispose() }
}

/** Publishes `model` (onnx) with one 3-byte version and an optional profile; returns its version. */
export async function publishTiny(edge: BenchEdge, model: string, profile?: unknown): Promise<void> {
  await edge.call('POST', '/v1/models', { name: model, format: 'onnx' })
  const bytes = new Uint8Array([1, 2, 3])
  const sha = Buffer.from(await crypto.subtle.digest('SHA-256', bytes)).toString('hex')
  const put = await fetch(`${edge.base}/v1/artifacts/${sha}`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/octet-stream', 'Content-Length': '3' },
    body: bytes,
  })
  if (put.status >= 300) throw new Error(`upload: ${put.status}`)
  await edge.call('POST', `/v1/models/${model}/versions`, {
    files: [{ path: 'model.onnx', sha256: sha, size: 3 }],
    ...(profile === undefined ? {} : { profile }),
  })
}

/** An app key (device scope). */
export async function appKey(edge: BenchEdge): Promise<string> {
  return (await edge.call('POST', '/v1/tokens', { name: `bench-app-${Date.now()}`, scopes: ['device'] }))
    .token as string
}

/** One autocannon run: requests/s and latency; throws when any answer was not 2xx/304. */
export async function load(o: {
  url: string
  seconds: number
  connections?: number
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  /** Builds each request's body (or path) afresh: unique batch ids, rotating devices. */
  request?: () => { body?: string; path?: string; headers?: Record<string, string> }
}): Promise<{ rps: number; p50: number; p99: number; requests: number }> {
  const result = await autocannon({
    url: o.url,
    connections: o.connections ?? 10,
    duration: o.seconds,
    method: o.method ?? 'GET',
    headers: o.headers,
    ...(o.request
      ? {
          requests: [
            { setupRequest: (req: autocannon.Request) => ({ ...req, ...o.request!() }) as autocannon.Request },
          ],
        }
      : {}),
  })
  const bad = result.non2xx - (result.statusCodeStats?.['304']?.count ?? 0)
  if (bad > 0 || result.errors > 0)
    throw new Error(
      `${o.url}: ${bad} answers were not 2xx/304, ${result.errors} errors (${JSON.stringify(result.statusCodeStats)})`,
    )
  return {
    rps: result.requests.total / o.seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
  }
}
