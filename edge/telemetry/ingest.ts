import type { Context } from 'hono'
import { murmur3x86_32 } from '../../core/bucket.ts'
import { EdgefleetError, httpStatus, isEdgefleetError } from '../../core/errors.ts'
import { Batch, type Report } from '../../core/formats/telemetry.ts'
import { deviceKey } from '../../core/telemetry/device-set.ts'
import { acceptedCohort } from '../../core/formats/cohort.ts'
import { deviceSlices } from '../../core/telemetry/slices.ts'
import { registryCache } from '../assign/registry-cache.ts'
import type { AppEnv } from '../env.ts'
import { validationError } from '../http/errors.ts'
import { readTelemetryBody } from './body.ts'
import { checkAgainstRegistry, checkWindows, versionsOf } from './check.ts'
import { telemetryConfig } from './config.ts'
import { countRefusal, modelNamed, refusalReason, schemaReason } from './refusals.ts'
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
export const RATE_LIMIT_PERIOD_S = { key: 10, client: 60, device: 60 } as const

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
 * anything is stored: rate limits per app key and per app key × client address → bounded body (gzip)
 * → JSON → `telemetry/1` schema and bounds → rate limit per device → windows (too_old / too_new) →
 * registry and profiles → split by model → one part per model to its shard, all in parallel.
 * Resolves only when every part is durable; a retry after a partial failure is absorbed by the
 * shards' dedupe. Every refusal is counted per model and reason (edge/telemetry/refusals.ts).
 */
export async function acceptBatch(c: Context<AppEnv>, sinkFor: SinkFor = shardStub): Promise<Accepted> {
  const named: { model: string | null } = { model: null }
  try {
    return await ingest(c, sinkFor, named)
  } catch (e) {
    if (isEdgefleetError(e) && httpStatus(e.code) < 500) {
      const ctx = executionContext(c)
      countRefusal(c.env, { model: named.model, reason: refusalReason(e), now: Date.now() }, (p) =>
        ctx ? ctx.waitUntil(p) : undefined,
      )
    }
    throw e
  }
}

async function ingest(c: Context<AppEnv>, sinkFor: SinkFor, named: { model: string | null }): Promise<Accepted> {
  const env = c.env
  const cfg = telemetryConfig(env)
  const key = c.get('principal').tokenId
  await rateLimit(env.KEY_RATE_LIMIT, `key:${key}`, RATE_LIMIT_PERIOD_S.key, 'this app key', 'rate_limited_key')
  // Rotating device ids do not escape this one: it counts per app key and client address.
  const client = c.req.header('CF-Connecting-IP') ?? 'unknown'
  await rateLimit(
    env.CLIENT_RATE_LIMIT,
    `client:${key}:${client}`,
    RATE_LIMIT_PERIOD_S.client,
    'this app key from this address',
    'rate_limited_client',
  )
  const text = await readTelemetryBody(c.req.raw)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new EdgefleetError('invalid_json', 'the body is not valid JSON', { cause })
  }
  const parsed = Batch.safeParse(json)
  if (!parsed.success) {
    const e = validationError(parsed.error, 'json')
    named.model = modelNamed(json, e.pointer)
    throw withReason(e, schemaReason(parsed.error))
  }
  const batch = parsed.data
  named.model = batch.reports[0]?.model ?? null
  await rateLimit(
    env.DEVICE_RATE_LIMIT,
    `device:${batch.device.id}`,
    RATE_LIMIT_PERIOD_S.device,
    'this device',
    'rate_limited_device',
  )

  const now = Date.now()
  try {
    checkWindows(batch, now, cfg)
    checkAgainstRegistry(batch, await versionProfiles(env.DB, versionsOf(batch), now))
  } catch (e) {
    if (isEdgefleetError(e)) named.model = modelNamed(batch, e.pointer)
    throw e
  }
  if (batch.reports.length === 0) return { accepted: 0, duplicate: false }

  const byModel = new Map<string, Report[]>()
  for (const r of batch.reports) {
    if (!byModel.has(r.model)) byModel.set(r.model, [])
    byModel.get(r.model)!.push(r)
  }
  const shard = shardOf(batch.device.id, cfg.shards)
  const device = deviceKey(batch.device.id)
  // The device's drop counts go with one part only (the first model by name), deduplicated with it.
  const dropsWith = [...byModel.keys()].sort()[0]
  const dropped = Object.values(batch.dropped).some((n) => n > 0) ? batch.dropped : undefined
  const caps = deviceSlices(batch.device.caps)
  // The cohort slice of each model: the device's label where that model's allow-list has it, else none.
  const sent = batch.device.cohort
  const slicesOf = async (model: string): Promise<string> => {
    const cohort =
      sent === undefined ? null : acceptedCohort(sent, (await registryCache(env).cohorts(env.DB, model)).allowed)
    return JSON.stringify(cohort === null ? caps : { ...caps, cohort })
  }
  const slices = new Map(await Promise.all([...byModel.keys()].map(async (m) => [m, await slicesOf(m)] as const)))
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
          ...(model === dropsWith && dropped ? { dropped } : {}),
          slices: slices.get(model),
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
async function rateLimit(
  binding: RateLimit | undefined,
  key: string,
  periodS: number,
  who: string,
  reason: string,
): Promise<void> {
  if (binding === undefined) return
  const { success } = await binding.limit({ key })
  if (!success)
    throw new EdgefleetError('rate_limited', `too many telemetry requests from ${who}; retry after ${periodS} s`, {
      retryAfter: periodS,
      data: { reason },
    })
}

/** The same error, carrying the refusal reason it is counted under. */
function withReason(e: EdgefleetError, reason: string): EdgefleetError {
  return new EdgefleetError(e.code, e.message, { ...e.details, data: { ...e.details.data, reason } })
}

function executionContext(c: Context<AppEnv>): { waitUntil(p: Promise<unknown>): void } | null {
  try {
    return c.executionCtx
  } catch {
    return null // app.request() without an execution context (tests)
  }
}
