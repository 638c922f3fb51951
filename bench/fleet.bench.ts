/**
 * @module
 * `fleet-scale`: telemetry from a pool of 100,000 simulated devices (each request one device's typical
 * batch: 1 report, 20 features, 60 inferences) through S = 4 telemetry shards against S = 1, two bench
 * edges side by side in Miniflare (bench/edge-server.ts), rounds interleaved, autocannon at 10
 * connections; then the fleet view's read latency (`GET /v1/models/:model/telemetry`) at each S. It
 * writes down the per-shard throughput and, from it, the shards the seed's 1M predictions/s would need.
 * Locally every shard shares one workerd thread and one disk, so S = 4 cannot run faster than S = 1
 * here: the per-shard figure of S = 1 is the one that carries over (bench/README.md). Run with
 * `npm run bench -- fleet`.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ADMIN, appKey, type BenchEdge, load, publishTiny, root, startBenchEdge } from './edge-server.ts'
import { record, spread } from './results.ts'

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const SECONDS = Number(process.env.ROUND_SECONDS ?? 2)
const DEVICES = 100_000
const TARGET_PREDICTIONS = 1_000_000
const out = join(root, 'bench/out/fleet')

const typical = JSON.parse(readFileSync(join(root, 'test/vectors/formats/report.typical.json'), 'utf8')).value
const numeric = {
  type: 'numeric',
  edges: Array.from({ length: 19 }, (_, i) => i + 1),
  counts: new Array(20).fill(5),
  n: 100,
  missing: 0,
  mean: 10,
  std: 5,
  min: 0,
  max: 20,
}
const profile = {
  v: 1,
  rows: 100,
  features: Object.fromEntries(Object.keys(typical.features).map((name) => [name, numeric])),
  outputs: { churn: { type: 'categorical', categories: ['no', 'yes'], counts: [80, 20, 0], n: 100, missing: 0 } },
}
const inferencesPerBatch = typical.counts.inferences as number
const minute = Math.floor(Date.now() / 60_000) * 60_000
const template = JSON.stringify({
  v: 1,
  batchId: 'BATCHID',
  sentAt: Date.now(),
  device: { id: 'DEVICEID', caps: { webgpu: false, cores: 8 }, sdk: '0.1.0' },
  sampleRate: 1,
  dropped: {},
  reports: [{ ...typical, version: 1, window: { start: minute, end: minute + 60_000 } }],
})

const edges: Record<'s1' | 's4', { edge: BenchEdge; key: string }> = {} as never
let sent = 0
const seen = new Set<number>()
try {
  const s1 = await startBenchEdge({ out: join(out, 's1'), shards: 1 })
  const s4 = await startBenchEdge({ out: join(out, 's4'), shards: 4, bundle: s1.bundle })
  for (const [name, edge] of [
    ['s1', s1],
    ['s4', s4],
  ] as const) {
    await publishTiny(edge, typical.model, profile)
    edges[name] = { edge, key: await appKey(edge) }
  }
  const post = (name: 's1' | 's4', seconds: number) =>
    load({
      url: `${edges[name].edge.base}/v1/telemetry`,
      seconds,
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Edgefleet-Key': edges[name].key },
      request: () => {
        const n = sent++
        const device = (n * 7919) % DEVICES // walks the whole pool before any device repeats
        seen.add(device)
        return {
          body: template
            .replace('BATCHID', `b_fleet_${process.pid}_${n}`)
            .replace('DEVICEID', `device_${String(device).padStart(6, '0')}`),
        }
      },
    })
  await post('s1', 1)
  await post('s4', 1)
  const rounds: { s1: number; s4: number }[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const round = { s1: 0, s4: 0 }
    for (const name of r % 2 ? (['s4', 's1'] as const) : (['s1', 's4'] as const))
      round[name] = (await post(name, SECONDS)).rps
    rounds.push(round)
    console.log(`round ${r + 1}: 1 shard ${round.s1.toFixed(0)} batches/s, 4 shards ${round.s4.toFixed(0)} batches/s`)
  }

  // The fleet view over the last hour, read as the dashboard does, interleaved.
  const readMs: { s1: number[]; s4: number[] } = { s1: [], s4: [] }
  for (let i = 0; i < 7; i++)
    for (const name of ['s1', 's4'] as const) {
      const t = performance.now()
      const res = await fetch(`${edges[name].edge.base}/v1/models/${typical.model}/telemetry?granularity=minute`, {
        headers: { Authorization: `Bearer ${ADMIN}` },
      })
      if (res.status !== 200) throw new Error(`fleet view: ${res.status} ${await res.text()}`)
      await res.arrayBuffer()
      readMs[name].push(performance.now() - t)
    }

  const s1Rate = spread(rounds.map((r) => r.s1))
  const s4Rate = spread(rounds.map((r) => r.s4))
  const ratios = spread(rounds.map((r) => r.s4 / r.s1))
  const perShard = s1Rate.median * inferencesPerBatch
  const shards = Math.ceil(TARGET_PREDICTIONS / perShard)
  const read1 = spread(readMs.s1).median
  const read4 = spread(readMs.s4).median
  console.log(
    `${seen.size.toLocaleString('en')} distinct devices of ${DEVICES.toLocaleString('en')} sent ${sent.toLocaleString('en')} batches`,
  )
  console.log(
    `per shard: ${s1Rate.median.toFixed(0)} batches/s = ${perShard.toFixed(0)} predictions/s reported (${inferencesPerBatch} per batch); 1M predictions/s needs ${shards} shards at this rate`,
  )
  console.log(`fleet view read: ${read1.toFixed(1)} ms at S = 1, ${read4.toFixed(1)} ms at S = 4 (medians of 7)`)
  record({
    name: 'fleet-scale',
    unit: 'req/s',
    value: s4Rate.median,
    baseline: s1Rate.median,
    ratio: ratios.median,
    target: 'documented',
    ok: null,
    min: ratios.min,
    max: ratios.max,
    rounds: ratios.rounds,
    note: `batches/s through 4 shards vs 1 on one local thread; per shard ${s1Rate.median.toFixed(0)} batches/s = ${perShard.toFixed(0)} predictions/s, so 1M predictions/s needs ${shards} shards at this rate; fleet view read ${read1.toFixed(0)} ms (S=1), ${read4.toFixed(0)} ms (S=4); ${seen.size.toLocaleString('en')} distinct devices`,
  })
} finally {
  for (const { edge } of Object.values(edges)) await edge.dispose()
}
