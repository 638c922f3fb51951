import type { Context } from 'hono'
import { murmur3x86_32 } from '../../core/bucket.ts'
import { EdgefleetError } from '../../core/errors.ts'
import { Batch, type Report } from '../../core/formats/telemetry.ts'
import { deviceKey } from '../../core/telemetry/device-set.ts'
import type { AppEnv } from '../env.ts'
import { validationError } from '../http/errors.ts'
import { readTelemetryBody } from './body.ts'
import { checkAgainstRegistry, checkWindows, versionsOf } from './check.ts'
import { telemetryConfig } from './config.ts'
import { versionProfiles } from './profiles.ts'
import type { IngestResult, ShardPart, TelemetryShard } from './shard.ts'

/** Where validated parts go: the TelemetryShard `<model>:<shard>` (or, in the bench build, a memory sink). */
export type SinkFor = (env: Env, model: string, shard: number) => { ingest(part: ShardPart): Promise<IngestResult> }

/** The answer of `POST /v1/telemetry`: reports newly stored, and whether any part had been stored before. */
export interface Accepted {
  accepted: number
  duplicate: boolean
}

/** Seconds a rate-limited caller should wait: the period of the binding that refused (wrangler.toml). */
export const RATE_LIMIT_PERIOD_S = { key: 10, device: 60 } as const

const encoder = new TextEncoder()

/** The shard of a device: `murmur3_x86_32(utf8(deviceId)) mod shards` (seed 0). */
export function shardOf(deviceId: string, shards: number): number {
  return murmur3x86_32(encoder.encode(deviceId), 0) % shards
}

/** The TelemetryShard of one model and shard number. */
export function shardStub(env: Env, model: string, shard: number): DurableObjectStub<TelemetryShard> {
  return env.TELEMETRY_SHARD.get(env.TELEMETRY_SHARD.idFromName(`${model}:${shard}`))
}

/**
 * The ingestion path of `POST /v1/telemetry`, every step refusing bad input with a stable 4xx before
 * anything is stored: rate limit per app key → bounded body (gzip) → JSON → `telemetry/1` schema →
 * rate limit per device → windows (too_new / too_old) → registry and profiles → split by model →
 * one part per model to its shard, all in parallel. Resolves only when every part is durable; a
 * retry after a partial failure is absorbed by the shards' dedupe.
 */
export async function acceptBatch(c: Context<AppEnv>, sinkFor: SinkFor = shardStub): Promise<Accepted> {
  const env = c.env
  const cfg = telemetryConfig(env)
  await rateLimit(env.KEY_RATE_LIMIT, `key:${c.get('principal').tokenId}`, RATE_LIMIT_PERIOD_S.key, 'this app key')
  const text = await readTelemetryBody(c.req.raw)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new EdgefleetError('invalid_json', 'the body is not valid JSON', { cause })
  }
  const parsed = Batch.safeParse(json)
  if (!parsed.success) throw validationError(parsed.error, 'json')
  const batch = parsed.data
  await rateLimit(env.DEVICE_RATE_LIMIT, `device:${batch.device.id}`, RATE_LIMIT_PERIOD_S.device, 'this device')

  const now = Date.now()
  checkWindows(batch, now, cfg)
  checkAgainstRegistry(batch, await versionProfiles(env.DB, versionsOf(batch), now))
  if (batch.reports.length === 0) return { accepted: 0, duplicate: false }

  const byModel = new Map<string, Report[]>()
  for (const r of batch.reports) {
    if (!byModel.has(r.model)) byModel.set(r.model, [])
    byModel.get(r.model)!.push(r)
  }
  const shard = shardOf(batch.device.id, cfg.shards)
  const device = deviceKey(batch.device.id)
  let results: IngestResult[]
  try {
    results = await Promise.all(
      [...byModel].map(([model, reports]) =>
        sinkFor(env, model, shard).ingest({
          batchId: batch.batchId,
          deviceKey: device,
          reports: JSON.stringify(reports),
          count: reports.length,
          sampleRate: batch.sampleRate,
          firstWindowStart: Math.min(...reports.map((r) => r.window.start)),
        }),
      ),
    )
  } catch (cause) {
    // Storage, not the input, failed: the SDK retries after Retry-After and the dedupe absorbs parts already stored.
    console.error('telemetry shard unavailable', cause)
    throw new EdgefleetError('network_error', 'telemetry storage is unavailable; retry later', { cause, retryAfter: 5 })
  }
  return { accepted: results.reduce((n, r) => n + r.accepted, 0), duplicate: results.some((r) => r.duplicate) }
}

/** Counts one request against a rate-limit binding; 429 `rate_limited` with Retry-After when over. */
async function rateLimit(binding: RateLimit | undefined, key: string, periodS: number, who: string): Promise<void> {
  if (binding === undefined) return
  const { success } = await binding.limit({ key })
  if (!success)
    throw new EdgefleetError('rate_limited', `too many telemetry requests from ${who}; retry after ${periodS} s`, {
      retryAfter: periodS,
    })
}
