/**
 * @module
 * A sustained mix of the device routes against the bench edge (bench/edge-server.ts: the real Worker in
 * Miniflare, D1 and Durable Objects on disk) on 127.0.0.1: for `seconds`, autocannon drives
 * `connections` connections, each request one of
 * - 60% `GET /v1/assign/:model` for one of 5,000 rotating devices, a 20% canary running;
 * - 30% `POST /v1/telemetry`, a typical batch (1 report, 20 features) with a fresh batch id from one of
 *   20,000 rotating devices (each stays far below the per-device limit);
 * - 10% `POST /v1/telemetry` from ONE hot device, which the real per-device rate limit (production's
 *   30 a minute, wrangler.toml) must refuse with 429 `rate_limited`: the deliberate 429s.
 * Every answer is classified by what was asked: a deliberate 429 is the hot device's `rate_limited`;
 * anything else that is not 200/304 (assign) or 202 (telemetry), and every socket error or timeout, is
 * unexpected. Afterwards the shard's stored batches must equal the 202s (no loss, no double count).
 * The RSS of the workerd process is read after an uncounted warm-up and every 5 s of the run.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { seededRandom } from '../scripts/lib/random.ts'
import { type BenchEdge, appKey, publishTiny, root, startBenchEdge } from './edge-server.ts'

const ASSIGN_DEVICES = 5_000
const TELEMETRY_DEVICES = 20_000
const HOT_DEVICE = 'device_hot_000000000000'
/** Production's per-device limit (wrangler.toml DEVICE_RATE_LIMIT). */
const DEVICE_LIMIT = { limit: 30, period: 60 } as const

type Kind = 'assign' | 'telemetry' | 'hot'

/** What one load run saw. */
export interface LoadResult {
  seconds: number
  connections: number
  requests: Record<Kind, number>
  /** Answers per kind and status. */
  statuses: Record<Kind, Record<string, number>>
  /** 429 `rate_limited` answers to the hot device. */
  deliberate429: number
  /** Answers that were neither expected nor deliberate 429s, plus socket errors and timeouts. */
  unexpected: number
  /** The first few unexpected answers: kind, status, error code. */
  unexpectedSamples: string[]
  /** Status ≥ 500 answers, of any kind. */
  fivexx: number
  /** Telemetry answers 202 (not duplicates) and batches the shard stored. */
  accepted: number
  stored: number
  /** Telemetry requests still in flight when the run stopped (sent, never answered): stored may hold them. */
  unanswered: number
  /** Bytes of the edge's persisted state (D1, R2, Durable Objects) at the end. */
  stateBytes: number
  /** RSS of the workerd process in bytes: after the warm-up, every 5 s of the run, half-way, at the end. */
  rss: { before: number; samples: number[]; half: number; after: number }
  /** Requests/s over the run. */
  rps: number
}

const typical = JSON.parse(readFileSync(join(root, 'test/vectors/formats/report.typical.json'), 'utf8')).value
/** The model of the typical report, which the load publishes. */
export const LOAD_MODEL: string = typical.model
const profile = {
  v: 1,
  rows: 100,
  features: Object.fromEntries(
    Object.keys(typical.features).map((name) => [
      name,
      {
        type: 'numeric',
        edges: Array.from({ length: 19 }, (_, i) => i + 1),
        counts: new Array(20).fill(5),
        n: 100,
        missing: 0,
        mean: 10,
        std: 5,
        min: 0,
        max: 20,
      },
    ]),
  ),
  outputs: { churn: { type: 'categorical', categories: ['no', 'yes'], counts: [80, 20, 0], n: 100, missing: 0 } },
}

/** The resident set size of a process, in bytes (Linux /proc). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!m) throw new Error(`no VmRSS for process ${pid}`)
  return Number(m[1]) * 1024
}

/** Bytes of the files under a directory. */
function bytesUnder(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size
  return total
}

/** The workerd process Miniflare started for this Node process (a descendant named `workerd`). */
export function workerdPid(parent = process.pid): number {
  const children = new Map<number, number[]>()
  const names = new Map<number, string>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      const name = stat.slice(stat.indexOf('(') + 1, close)
      const ppid = Number(stat.slice(close + 2).split(' ')[1])
      const pid = Number(entry)
      names.set(pid, name)
      children.set(ppid, [...(children.get(ppid) ?? []), pid])
    } catch {
      // The process ended while we listed it.
    }
  }
  const queue = [...(children.get(parent) ?? [])]
  while (queue.length > 0) {
    const pid = queue.shift()!
    if (names.get(pid) === 'workerd') return pid
    queue.push(...(children.get(pid) ?? []))
  }
  throw new Error('no workerd process under this one')
}

/** Two versions, production on 1, a canary of 2 at 20%; returns an app key. */
async function seed(edge: BenchEdge): Promise<string> {
  await publishTiny(edge, LOAD_MODEL, profile)
  await edge.call('PUT', `/v1/models/${LOAD_MODEL}/aliases/production`, { version: 1 })
  const v1 = (await edge.call('GET', `/v1/models/${LOAD_MODEL}/versions/1`)) as {
    files: { path: string; sha256: string; size: number }[]
  }
  const files = v1.files.map(({ path, sha256, size }) => ({ path, sha256, size }))
  await edge.call('POST', `/v1/models/${LOAD_MODEL}/versions`, { files, profile })
  await edge.call('POST', `/v1/models/${LOAD_MODEL}/rollouts`, {
    candidate: 2,
    mode: 'canary',
    steps: [
      { percent: 20, minDevices: 5 },
      { percent: 100, minDevices: 5 },
    ],
    evaluationSeconds: 3600,
  })
  return appKey(edge)
}

/** Runs the mix for `seconds` against a fresh bench edge under `out`; `log` prints progress. */
export async function runLoad(o: {
  seconds: number
  /** Uncounted load first, so the RSS figures start from a warm edge (default 5 s). */
  warmupSeconds?: number
  out?: string
  connections?: number
  seed?: number
  log?: (line: string) => void
}): Promise<LoadResult> {
  const log = o.log ?? (() => {})
  const connections = o.connections ?? 10
  const edge = await startBenchEdge({
    out: o.out ?? join(root, 'bench/out/load'),
    // The device limit is production's; the per-key and per-address limits are out of reach, since
    // every request here comes from one address with one key.
    ratelimits: { DEVICE_RATE_LIMIT: { simple: DEVICE_LIMIT } },
  })
  try {
    const key = await seed(edge)
    const random = seededRandom(o.seed ?? 16)
    const tag = `l${process.pid}`
    let n = 0
    const template = JSON.stringify({
      v: 1,
      batchId: 'BATCHID',
      sentAt: 0,
      device: { id: 'DEVICEID', caps: { webgpu: false, cores: 8 }, sdk: '0.1.0' },
      sampleRate: 1,
      dropped: {},
      reports: [{ ...typical, version: 1, window: { start: 0, end: 0 } }],
    })
    const batchBody = (device: string): string => {
      // The last closed minute: a window the edge accepts for the whole run.
      const batch = JSON.parse(template)
      const minute = Math.floor(Date.now() / 60_000) * 60_000
      batch.batchId = `b_${tag}_${n}`
      batch.sentAt = Date.now()
      batch.device.id = device
      batch.reports[0].window = { start: minute - 60_000, end: minute }
      return JSON.stringify(batch)
    }

    const statuses: Record<Kind, Record<string, number>> = { assign: {}, telemetry: {}, hot: {} }
    const requests: Record<Kind, number> = { assign: 0, telemetry: 0, hot: 0 }
    let deliberate429 = 0
    let unexpected = 0
    let answered = 0
    let accepted = 0
    let fivexx = 0
    const unexpectedSamples: string[] = []
    let counting = false

    const run = (seconds: number) =>
      autocannon({
        url: edge.base,
        connections,
        duration: seconds,
        headers: { 'X-Edgefleet-Key': key },
        requests: [
          {
            setupRequest: (req: autocannon.Request, ctx: object) => {
              const context = ctx as { kind?: Kind }
              n++
              const r = random()
              const kind: Kind = r < 0.6 ? 'assign' : r < 0.9 ? 'telemetry' : 'hot'
              context.kind = kind
              if (counting) requests[kind]++
              if (kind === 'assign')
                return {
                  ...req,
                  method: 'GET',
                  path: `/v1/assign/${LOAD_MODEL}?device=device_${String(n % ASSIGN_DEVICES).padStart(6, '0')}`,
                  body: undefined,
                  headers: { 'X-Edgefleet-Key': key },
                } as autocannon.Request
              const device =
                kind === 'hot' ? HOT_DEVICE : `device_${String(n % TELEMETRY_DEVICES).padStart(6, '0')}_${tag}`
              return {
                ...req,
                method: 'POST',
                path: '/v1/telemetry',
                body: batchBody(device),
                headers: { 'X-Edgefleet-Key': key, 'Content-Type': 'application/json' },
              } as autocannon.Request
            },
            onResponse: (status: number, body: string, ctx: object) => {
              const context = ctx as { kind?: Kind }
              if (!counting) return
              const kind = context.kind as Kind
              if (kind !== 'assign') answered++
              statuses[kind][status] = (statuses[kind][status] ?? 0) + 1
              if (status >= 500) fivexx++
              let code: string | undefined
              let duplicate = false
              try {
                const json = JSON.parse(body) as { error?: { code?: string }; duplicate?: boolean }
                code = json.error?.code
                duplicate = json.duplicate === true
              } catch {
                // Not JSON (a 304 has no body): classified by status alone.
              }
              const ok = kind === 'assign' ? status === 200 || status === 304 : status === 202 && !duplicate
              if (ok) {
                if (kind !== 'assign') accepted++
                return
              }
              if (kind === 'hot' && status === 429 && code === 'rate_limited') {
                deliberate429++
                return
              }
              unexpected++
              if (unexpectedSamples.length < 10)
                unexpectedSamples.push(`${kind} ${status} ${code ?? ''} ${body.slice(0, 200)}`.trim())
            },
          },
        ],
      })

    // Warm-up: JIT, the Durable Objects, the caches; uncounted, then the shard's count is the baseline.
    await run(o.warmupSeconds ?? 5)
    const ns = (await edge.mf.getDurableObjectNamespace('TELEMETRY_SHARD')) as unknown as {
      idFromName(name: string): unknown
      get(id: unknown): { inspect(): Promise<{ batches: number }> }
    }
    const shard = ns.get(ns.idFromName(`${LOAD_MODEL}:0`))
    const storedBefore = (await shard.inspect()).batches
    const pid = workerdPid()
    const before = rssOf(pid)
    log(
      `workerd ${pid}: RSS ${(before / 2 ** 20).toFixed(1)} MiB after the warm-up; ${connections} connections for ${o.seconds} s`,
    )
    const samples: number[] = []
    const sampler = setInterval(() => {
      samples.push(rssOf(pid))
      log(`  ${samples.length * 5} s: RSS ${(samples.at(-1)! / 2 ** 20).toFixed(1)} MiB`)
    }, 5_000)
    counting = true
    let result: autocannon.Result
    try {
      result = await run(o.seconds)
    } finally {
      clearInterval(sampler)
      counting = false
    }
    const after = rssOf(pid)
    const half = samples[Math.floor(samples.length / 2) - 1] ?? before
    const stored = (await shard.inspect()).batches - storedBefore
    unexpected += result.errors + result.timeouts
    if (result.errors + result.timeouts > 0)
      unexpectedSamples.push(`${result.errors} socket errors, ${result.timeouts} timeouts`)
    return {
      seconds: o.seconds,
      connections,
      requests,
      statuses,
      deliberate429,
      unexpected,
      unexpectedSamples,
      fivexx,
      accepted,
      stored,
      unanswered: requests.telemetry + requests.hot - answered,
      stateBytes: bytesUnder(edge.state),
      rss: { before, samples, half, after },
      rps: result.requests.total / o.seconds,
    }
  } finally {
    await edge.dispose()
  }
}
