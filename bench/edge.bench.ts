/**
 * @module
 * The edge's device path under load, in Miniflare serving the bench build (bench/edge-server.ts),
 * driven by autocannon (10 connections at 127.0.0.1), rounds interleaved in rotating order:
 * - `assign-rps`: `GET /v1/assign/:model` for rotating devices while a canary rollout runs, against
 *   `GET /bench/hello`, a bare Hono route in the same Worker. Target ≥ 0.8.
 * - `registry-scale`: assign and model detail with 10, 1,000 and 10,000 models in the registry (three
 *   edges side by side, one per size, rounds interleaved), against the 10-model figure. Target ≤ 1.2 at
 *   10,000 (cost per request, i.e. the inverse of requests/s).
 * - `runtime-wire-bytes`: the bytes a browser receives for the ONNX runtime's wasm, uploaded as the CLI
 *   does it (a gzip copy when it saves ≥ 10%), asked for with `Accept-Encoding: gzip, deflate, br`,
 *   against its raw size. Target ≤ 0.3.
 * - `device-day`: requests and bytes one active device exchanges with the edge per day (assign 304s,
 *   telemetry; first-load downloads apart), measured on the wire, and what a million such devices cost
 *   per month at Workers Paid list prices (bench/README.md, "device-day").
 * Run with `npm run bench -- edge` (or one row's name).
 */
import { readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { createEdgeClient } from '../cli/edge-client.ts'
import { uploadGzipCopy } from '../cli/encodings.ts'
import { RUNTIME_FILES } from '../core/runtime-files.ts'
import { ADMIN, appKey, type BenchEdge, load, publishTiny, root, startBenchEdge } from './edge-server.ts'
import { ratioRow, record, spread } from './results.ts'

/**
 * Workers Paid list prices (USD) this estimate assumes, as Cloudflare's pricing pages state them
 * (developers.cloudflare.com/workers/platform/pricing and /durable-objects/platform/pricing), read
 * 2026-12: $5 a month per account with 10 M Worker requests and 30 M CPU-ms included, then $0.30 per
 * million requests and $0.02 per million CPU-ms; Durable Objects 1 M requests included, then $0.15 per
 * million. Egress is not billed on Workers. Duration, storage and D1 are left out (see bench/README.md).
 */
const PRICES = { base: 5, requestsIncluded: 10e6, perMillionRequests: 0.3, doIncluded: 1e6, perMillionDo: 0.15 }
const CPU_MS = { perMillionCpuMs: 0.02, included: 30e6 }

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const SECONDS = Number(process.env.ROUND_SECONDS ?? 2)
const PAIRS = Number(process.env.ASSIGN_PAIRS ?? 10)
const out = join(root, 'bench/out/edge')
const MODEL = 'assign-model'

const typical = JSON.parse(readFileSync(join(root, 'test/vectors/formats/report.typical.json'), 'utf8')).value
/** A profile the typical report matches: its 20 numeric features on 20 bins, one class output. */
const typicalProfile = {
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

/** The model every edge serves: two versions, production on 1, a canary of 2 at 20%. */
async function seed(edge: BenchEdge): Promise<string> {
  await publishTiny(edge, MODEL, typicalProfile)
  await edge.call('PUT', `/v1/models/${MODEL}/aliases/production`, { version: 1 })
  await edge.call('POST', `/v1/models/${MODEL}/versions`, {
    files: [{ path: 'model.onnx', sha256: sha3, size: 3 }],
    profile: typicalProfile,
  })
  await edge.call('POST', `/v1/models/${MODEL}/rollouts`, {
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
const sha3 = Buffer.from(await crypto.subtle.digest('SHA-256', new Uint8Array([1, 2, 3]))).toString('hex')

/** Fills the registry up to `n` models (rows as `POST /v1/models` writes them, in batches). */
async function fill(edge: BenchEdge, n: number): Promise<void> {
  const db = await edge.mf.getD1Database('DB')
  const stmt = db.prepare(
    "INSERT INTO models (name, task, format, signature, description, created_at, created_by) VALUES (?1, 'classification', 'onnx', NULL, '', ?2, 'bench')",
  )
  for (let i = 1; i < n; i += 500) {
    const batch = []
    for (let j = i; j < Math.min(n, i + 500); j++) batch.push(stmt.bind(`filler-${String(j).padStart(5, '0')}`, j))
    await db.batch(batch)
  }
}

let device = 0
const nextDevice = () => `device_${String(device++ % 5000).padStart(6, '0')}`
const assignRequest = () => ({ path: `/v1/assign/${MODEL}?device=${nextDevice()}` })
/** The baseline's requests are built the same way (a rotating query), so the load generator works alike for both. */
const helloRequest = () => ({ path: `/bench/hello?device=${nextDevice()}` })

const edges: Record<string, { edge: BenchEdge; key: string }> = {}
try {
  const first = await startBenchEdge({ out: join(out, 'm10') })
  edges.m10 = { edge: first, key: await seed(first) }
  for (const [name, n] of [
    ['m1000', 1000],
    ['m10000', 10000],
  ] as const) {
    const edge = await startBenchEdge({ out: join(out, name), bundle: first.bundle })
    const key = await seed(edge)
    await fill(edge, n)
    edges[name] = { edge, key }
  }
  await fill(first, 10)
  for (const [name, { edge }] of Object.entries(edges)) {
    const page = await edge.call('GET', '/v1/models?limit=1000')
    console.log(
      `${name}: first page of GET /v1/models holds ${(page.models as unknown[]).length} models, next ${page.next}`,
    )
  }

  // registry-scale, rounds interleaved in rotating order; then assign-rps in pairs.
  type Figure = 'assign' | 'assign1000' | 'assign10000' | 'detail' | 'detail1000' | 'detail10000'
  const runs: Record<Figure, () => Promise<number>> = {} as never
  type Requests = () => { path: string }
  const on = (name: string, path: string | Requests, withKey: boolean) => async () => {
    const { edge, key } = edges[name]!
    const r = await load({
      url: edge.base + (typeof path === 'string' ? path : '/'),
      seconds: SECONDS,
      headers: withKey ? { 'X-Edgefleet-Key': key } : { Authorization: `Bearer ${ADMIN}` },
      ...(typeof path === 'string' ? {} : { request: path }),
    })
    return r.rps
  }
  runs.assign = on('m10', assignRequest, true)
  runs.assign1000 = on('m1000', assignRequest, true)
  runs.assign10000 = on('m10000', assignRequest, true)
  runs.detail = on('m10', `/v1/models/${MODEL}`, false)
  runs.detail1000 = on('m1000', `/v1/models/${MODEL}`, false)
  runs.detail10000 = on('m10000', `/v1/models/${MODEL}`, false)
  const names = Object.keys(runs) as Figure[]
  for (const n of names) await runs[n]!() // warm-up: JIT, Durable Objects, caches
  const rounds: Record<Figure, number>[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const round = {} as Record<Figure, number>
    for (let i = 0; i < names.length; i++) {
      const n = names[(i + r) % names.length]!
      round[n] = await runs[n]!()
    }
    rounds.push(round)
    console.log(`round ${r + 1}: ${names.map((n) => `${n} ${round[n].toFixed(0)}`).join(', ')} req/s`)
  }
  // assign-rps: assign and the bare route back to back in pairs (which goes first alternates), so a
  // busy moment of the shared machine falls on both halves of a pair; the ratio is taken per pair.
  const hello = on('m10', helloRequest, true)
  await hello() // warm-up
  const pairs: { assign: number; hello: number }[] = []
  for (let p = 0; p < PAIRS; p++) {
    const first = p % 2 === 0 ? runs.assign : hello
    const a = await first()
    const b = await (first === hello ? runs.assign : hello)()
    pairs.push(first === hello ? { assign: b, hello: a } : { assign: a, hello: b })
    console.log(`pair ${p + 1}: assign ${pairs[p]!.assign.toFixed(0)}, hello ${pairs[p]!.hello.toFixed(0)} req/s`)
  }
  const assignRow = ratioRow({
    name: 'assign-rps',
    unit: 'req/s',
    values: pairs.map((p) => p.assign),
    baselines: pairs.map((p) => p.hello),
    target: { atLeast: 0.8 },
    note: `GET /v1/assign under a 20% canary (rotating devices) vs GET /bench/hello in the same Worker (the same rotating query), ${PAIRS} pairs of ${SECONDS} s`,
  })
  // Cost per request at 10,000 models ÷ at 10: the inverse of the requests/s ratio.
  const costRatios = (big: Figure, small: Figure) => rounds.map((r) => r[small] / r[big])
  const assignScale = spread(costRatios('assign10000', 'assign'))
  const detailScale = spread(costRatios('detail10000', 'detail'))
  const worse = assignScale.median >= detailScale.median ? 'assign' : 'detail'
  // Mean time per request at 10 connections: 10 / (requests/s), in ms.
  const msPerRequest = (f: Figure) => rounds.map((r) => 10_000 / r[f])
  const scaleRow = ratioRow({
    name: 'registry-scale',
    unit: 'ms',
    values: msPerRequest(worse === 'assign' ? 'assign10000' : 'detail10000'),
    baselines: msPerRequest(worse === 'assign' ? 'assign' : 'detail'),
    ratios: costRatios(worse === 'assign' ? 'assign10000' : 'detail10000', worse === 'assign' ? 'assign' : 'detail'),
    target: { atMost: 1.2 },
    note: `time per request at 10,000 models ÷ at 10 (the worse of the two): assign ${assignScale.median.toFixed(2)} (1,000: ${spread(costRatios('assign1000', 'assign')).median.toFixed(2)}), model detail ${detailScale.median.toFixed(2)} (1,000: ${spread(costRatios('detail1000', 'detail')).median.toFixed(2)}); GET /v1/models pages 100 (≤ 1,000) by name`,
  })

  // runtime-wire-bytes: the wasm uploaded as `edgefleet runtime push` does, then fetched as a browser would.
  const edge = edges.m10!.edge
  const client = createEdgeClient({ url: edge.base, token: ADMIN })
  const wasm = RUNTIME_FILES.ortWasm.wasm
  const source = join(root, 'node_modules', wasm.path)
  const bytes = readFileSync(source)
  await client.putArtifact(wasm.sha256, wasm.size, new Uint8Array(bytes))
  const gz = await uploadGzipCopy(client, { source, sha256: wasm.sha256, size: wasm.size })
  const key = edges.m10!.key
  const wire = await rawExchange(edge.base, `/v1/artifacts/${wasm.sha256}`, {
    'Accept-Encoding': 'gzip, deflate, br',
    'X-Edgefleet-Key': key,
  })
  console.log(
    `ORT wasm: ${wasm.size} B raw, gzip copy ${gz} B, received ${wire.bodyBytes} B body (${wire.headers['content-encoding'] ?? 'identity'}) + ${wire.headerBytes} B headers`,
  )
  const wireRow = {
    name: 'runtime-wire-bytes',
    unit: 'bytes',
    value: wire.bodyBytes + wire.headerBytes,
    baseline: wasm.size,
    ratio: (wire.bodyBytes + wire.headerBytes) / wasm.size,
    target: '≤ 0.3',
    ok: (wire.bodyBytes + wire.headerBytes) / wasm.size <= 0.3,
    note: `ort-wasm-simd-threaded.wasm as a browser receives it (Content-Encoding: ${wire.headers['content-encoding'] ?? 'none'}), headers included`,
  }

  // device-day: one assign 304 and one telemetry batch as the SDK sends them, measured on the wire.
  const assignUrl = `/v1/assign/${MODEL}?device=device_day_0001&caps=${encodeURIComponent('webgpu=0;cores=8')}`
  const first200 = await rawExchange(edge.base, assignUrl, { 'X-Edgefleet-Key': key, 'Accept-Encoding': 'gzip' })
  const etag = String(first200.headers.etag)
  const notModified = await rawExchange(edge.base, assignUrl, {
    'X-Edgefleet-Key': key,
    'If-None-Match': etag,
    'Accept-Encoding': 'gzip',
  })
  if (notModified.status !== 304) throw new Error(`assign with If-None-Match answered ${notModified.status}`)
  const minute = Math.floor(Date.now() / 60_000) * 60_000
  const batchBody = gzipSync(
    JSON.stringify({
      v: 1,
      batchId: 'b_device_day_0001',
      sentAt: Date.now(),
      device: { id: 'device_day_0001', caps: { webgpu: false, cores: 8 }, sdk: '0.1.0' },
      sampleRate: 1,
      dropped: {},
      reports: [{ ...typical, model: MODEL, version: 1, window: { start: minute, end: minute + 60_000 } }],
    }),
  )
  const telemetry = await rawExchange(
    edge.base,
    '/v1/telemetry',
    { 'X-Edgefleet-Key': key, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
    batchBody,
  )
  if (telemetry.status !== 202) throw new Error(`telemetry answered ${telemetry.status}`)
  record(assignRow, scaleRow, wireRow, deviceDay(notModified, telemetry))
} finally {
  for (const { edge } of Object.values(edges)) await edge.dispose()
}

/** Bytes of one HTTP/1.1 exchange as they cross the wire (request line, headers, bodies; no TLS). */
interface Exchange {
  status: number
  headers: Record<string, string | string[] | undefined>
  sentBytes: number
  headerBytes: number
  bodyBytes: number
}
function rawExchange(base: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      base + path,
      {
        method: body ? 'POST' : 'GET',
        headers: { ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) },
      },
      (res) => {
        let bodyBytes = 0
        res.on('data', (d: Buffer) => (bodyBytes += d.length))
        res.on('end', () => {
          const headerBytes =
            `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n`.length +
            res.rawHeaders.reduce((a, h) => a + Buffer.byteLength(h) + 2, 0) +
            2
          const sentBytes =
            `${body ? 'POST' : 'GET'} ${path} HTTP/1.1\r\n`.length +
            Object.entries(req.getHeaders()).reduce((a, [k, v]) => a + k.length + 4 + String(v).length, 0) +
            2 +
            (body?.length ?? 0)
          resolve({ status: res.statusCode ?? 0, headers: res.headers, sentBytes, headerBytes, bodyBytes })
        })
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

function deviceDay(assign: Exchange, telemetry: Exchange) {
  // SDK defaults: the assignment is asked for again every ttlSeconds (30 s without a rollout; a rollout
  // may shorten it to 5 s), telemetry flushes every 30 s one closed 60 s window per model: 1 batch a minute.
  const assignsPerDay = 86_400 / 30
  const batchesPerDay = 86_400 / 60
  const requests = assignsPerDay + batchesPerDay
  const up = assignsPerDay * assign.sentBytes + batchesPerDay * telemetry.sentBytes
  const down =
    assignsPerDay * (assign.headerBytes + assign.bodyBytes) +
    batchesPerDay * (telemetry.headerBytes + telemetry.bodyBytes)
  const devices = 1e6
  const workerRequests = devices * requests * 30
  const doRequests = devices * batchesPerDay * 30 // each batch is one RPC to its telemetry shard
  const cpuMs = workerRequests * 1 // assumed ≤ 1 ms of CPU per request (both routes are small JSON handlers)
  const cost =
    PRICES.base +
    (Math.max(0, workerRequests - PRICES.requestsIncluded) / 1e6) * PRICES.perMillionRequests +
    (Math.max(0, doRequests - PRICES.doIncluded) / 1e6) * PRICES.perMillionDo +
    (Math.max(0, cpuMs - CPU_MS.included) / 1e6) * CPU_MS.perMillionCpuMs
  console.log(
    `device-day: ${assignsPerDay} assigns (304: ${assign.sentBytes} B up, ${assign.headerBytes + assign.bodyBytes} B down) + ${batchesPerDay} telemetry batches (${telemetry.sentBytes} B up, ${telemetry.headerBytes + telemetry.bodyBytes} B down) = ${requests} requests, ${(up / 1e6).toFixed(2)} MB up, ${(down / 1e6).toFixed(2)} MB down per day`,
  )
  console.log(
    `1M such devices, 30 days: ${(workerRequests / 1e9).toFixed(1)} G Worker requests, ${(doRequests / 1e9).toFixed(1)} G Durable Object requests ≈ $${cost.toFixed(0)} a month`,
  )
  return {
    name: 'device-day',
    unit: 'USD',
    value: Math.round(cost),
    baseline: null,
    ratio: null,
    target: 'documented',
    ok: null,
    note: `per device per day: ${requests} requests (${assignsPerDay} assign 304s, ${batchesPerDay} telemetry batches), ${(up / 1e3).toFixed(0)} KB up, ${(down / 1e3).toFixed(0)} KB down; value: USD per 1M devices per month at Workers Paid list prices`,
  }
}
