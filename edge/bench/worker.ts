import { createApp } from '../app.ts'
import { requireScope } from '../auth/middleware.ts'
import { acceptBatch } from '../telemetry/ingest.ts'
import type { MemorySink } from './memory-sink.ts'

export { ModelControl } from '../control/model-control.ts'
export { TelemetryShard } from '../telemetry/shard.ts'
export { MemorySink } from './memory-sink.ts'

/**
 * The bench build of the Worker (bench/ingest.bench.ts): the real app plus two baseline routes that
 * exist only here, and only when `BENCH_ROUTES = "on"` (never set in wrangler.toml):
 * - `POST /bench/telemetry-memory`: the whole ingestion path of `POST /v1/telemetry` (auth, rate
 *   limits, body, schema, registry, split, shard RPC), handing parts to MemorySink instead of
 *   TelemetryShard: the local ceiling for a durable path;
 * - `GET /bench/hello`: a bare route, the floor of the HTTP stack.
 */
type BenchEnv = Env & { BENCH_MEMORY: DurableObjectNamespace<MemorySink>; BENCH_ROUTES?: string }

const app = createApp()
app.get('/bench/hello', (c) => c.text('ok'))
app.post('/bench/telemetry-memory', requireScope('device'), async (c) =>
  c.json(
    await acceptBatch(c, (env, model, shard) => {
      const ns = (env as BenchEnv).BENCH_MEMORY
      return ns.get(ns.idFromName(`${model}:${shard}`))
    }),
    202,
  ),
)

export default {
  fetch(req, env, ctx) {
    if (env.BENCH_ROUTES !== 'on' && new URL(req.url).pathname.startsWith('/bench/'))
      return new Response('not found', { status: 404 })
    return app.fetch(req, env, ctx)
  },
} satisfies ExportedHandler<BenchEnv>
