/**
 * @module
 * `npm run bench -- ingest` (row `ingest-rps`): requests/s of `POST /v1/telemetry` (a typical batch: 1
 * report, 20 features; every 202 durable) against (a) `POST /bench/telemetry-memory`, the same ingestion
 * path handing the parts to a Durable Object that keeps them only in memory (the local ceiling; target
 * ≥ 0.85×), and (b) `GET /bench/hello`, a bare route, measured in the same Miniflare, interleaved
 * (bench/edge-server.ts). autocannon drives 10 connections at 127.0.0.1, each request with a fresh batch
 * id and one of 5,000 device ids.
 *
 * One shard by default: locally every shard shares one workerd thread and one disk, so S shards
 * only split the same 10 connections into S smaller commit groups; the per-shard figure is the one
 * that carries over to production, where shards run apart. Knobs (environment): TELEMETRY_SHARDS,
 * CONNECTIONS, ROUNDS, ROUND_SECONDS, STATE_DIR (e.g. /dev/shm/x to take this disk's fsync out).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { median } from './harness.ts'
import { appKey, load, publishTiny, root, startBenchEdge } from './edge-server.ts'
import { ratioRow, record, spread } from './results.ts'

const out = join(root, 'bench/out/ingest')
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 10)
const ROUND_SECONDS = Number(process.env.ROUND_SECONDS ?? 2)
const ROUNDS = Number(process.env.ROUNDS ?? 5)
const TARGET_VS_MEMORY = 0.85
const SHARDS = Number(process.env.TELEMETRY_SHARDS ?? 1)
const STATE = process.env.STATE_DIR ?? join(out, 'state')

/** Median ms of a 4 KB write + fsync where the state lives: what every durable commit pays here. */
function fsyncMs(dir: string): number {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'fsync-probe')
  const fd = openSync(file, 'w')
  const times: number[] = []
  for (let i = 0; i < 20; i++) {
    const t = performance.now()
    writeSync(fd, Buffer.alloc(4096, i))
    fsyncSync(fd)
    times.push(performance.now() - t)
  }
  closeSync(fd)
  rmSync(file)
  return median(times)
}

const edge = await startBenchEdge({ out, state: STATE, shards: SHARDS })
const mf = edge.mf
const base = edge.base

try {
  // A model whose profile matches the typical report (20 numeric features on 20 bins, one class output).
  const typical = JSON.parse(readFileSync(join(root, 'test/vectors/formats/report.typical.json'), 'utf8')).value
  const numeric = () => ({
    type: 'numeric',
    edges: Array.from({ length: 19 }, (_, i) => i + 1),
    counts: new Array(20).fill(5),
    n: 100,
    missing: 0,
    mean: 10,
    std: 5,
    min: 0,
    max: 20,
  })
  const profile = {
    v: 1,
    rows: 100,
    features: Object.fromEntries(Object.keys(typical.features).map((name) => [name, numeric()])),
    outputs: { churn: { type: 'categorical', categories: ['no', 'yes'], counts: [80, 20, 0], n: 100, missing: 0 } },
  }
  await publishTiny(edge, typical.model, profile)
  const key = await appKey(edge)

  const minute = Math.floor(Date.now() / 60_000) * 60_000
  const batch = {
    v: 1,
    batchId: 'BATCHID',
    sentAt: Date.now(),
    device: { id: 'DEVICEID', caps: { webgpu: false, cores: 8 }, sdk: '0.1.0' },
    sampleRate: 1,
    dropped: {},
    reports: [{ ...typical, version: 1, window: { start: minute, end: minute + 60_000 } }],
  }
  const template = JSON.stringify(batch)
  console.log(
    `typical batch: ${Buffer.byteLength(template)} bytes, ${Object.keys(typical.features).length} features; ${SHARDS} shard(s), ${CONNECTIONS} connections`,
  )
  console.log(
    `state in ${STATE}: a 4 KB write + fsync takes ${fsyncMs(STATE).toFixed(2)} ms (median); load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  )

  let n = 0
  const tag = `r${process.pid}`
  /** Requests/s of one autocannon run; throws when any answer was not 2xx (every 202 must be a durable accept). */
  async function rate(path: string, seconds: number): Promise<number> {
    const post = path.startsWith('POST ')
    const r = await load({
      url: base + (post ? path.slice(5) : path),
      seconds,
      connections: CONNECTIONS,
      method: post ? 'POST' : 'GET',
      headers: { 'Content-Type': 'application/json', 'X-Edgefleet-Key': key },
      ...(post
        ? {
            request: () => {
              n++
              return {
                body: template
                  .replace('BATCHID', `b_${tag}_${n}`)
                  .replace('DEVICEID', `device_${String(n % 5000).padStart(5, '0')}_${tag}`),
              }
            },
          }
        : {}),
    })
    return r.rps
  }

  const targets = {
    ingest: 'POST /v1/telemetry',
    memory: 'POST /bench/telemetry-memory',
    hello: '/bench/hello',
  } as const
  for (const path of Object.values(targets)) await rate(path, 1) // warm-up: JIT, DO instances, caches
  const rounds: Record<keyof typeof targets, number>[] = []
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order, so drift in machine speed does not favour one route.
    const order = (['ingest', 'memory', 'hello'] as const).map((_, i, a) => a[(i + r) % a.length])
    const round = {} as Record<keyof typeof targets, number>
    for (const name of order) round[name] = await rate(targets[name], ROUND_SECONDS)
    rounds.push(round)
    console.log(
      `round ${r + 1}: ingest ${round.ingest.toFixed(0)} req/s, memory DO ${round.memory.toFixed(0)} req/s, bare GET ${round.hello.toFixed(0)} req/s`,
    )
  }

  // Workers types are not in this (Node) program's scope: the stub is used through RPC only.
  interface ShardStats {
    batches: number
    raw: number
    minuteCells: number
    commits: { groups: number; parts: number }
  }
  interface ShardNamespace {
    idFromName(name: string): unknown
    get(id: unknown): { inspect(): Promise<ShardStats> }
  }
  const ns = (await mf.getDurableObjectNamespace('TELEMETRY_SHARD')) as unknown as ShardNamespace
  for (let i = 0; i < SHARDS; i++) {
    const s = await ns.get(ns.idFromName(`${typical.model}:${i}`)).inspect()
    console.log(
      `shard ${i}: ${s.batches} batches stored, ${s.raw} raw rows pending, ${s.minuteCells} minute cells; ${s.commits.groups} commits, ${(s.commits.parts / Math.max(s.commits.groups, 1)).toFixed(1)} parts per commit`,
    )
  }
  const vsHello = spread(rounds.map((r) => r.ingest / r.hello)).median
  const memoryVsHello = spread(rounds.map((r) => r.memory / r.hello)).median
  console.log(`ingest ÷ bare GET: ${vsHello.toFixed(2)}; memory DO ÷ bare GET: ${memoryVsHello.toFixed(2)}`)
  record(
    ratioRow({
      name: 'ingest-rps',
      unit: 'req/s',
      values: rounds.map((r) => r.ingest),
      baselines: rounds.map((r) => r.memory),
      target: { atLeast: TARGET_VS_MEMORY },
      note: `vs the same path into an in-memory Durable Object; ${SHARDS} shard(s), state on ${STATE.startsWith('/dev/shm') ? 'tmpfs' : 'disk'}; ingest ÷ bare GET ${vsHello.toFixed(2)}; limited by the shard's commit (fsync) on one local thread`,
    }),
  )
} finally {
  await mf.dispose()
}
