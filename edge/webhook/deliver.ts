import { signWebhook, SIGNATURE_HEADER } from '../../core/webhook/signature.ts'
import type { RetrainMessage } from '../control/outbox.ts'
import { modelControl } from '../control/stub.ts'
import { getEvent, insertEvent } from '../db/events.ts'
import { telemetryConfig } from '../telemetry/config.ts'
import { toHex } from '../../core/hex.ts'

/** How long one delivery may take before it counts as failed. */
const TIMEOUT_MS = 10_000
/** Longest wait between attempts (the Queue allows up to 12 h). */
const MAX_DELAY_S = 3_600

/** What happened to one message. */
export type Delivery =
  | { outcome: 'delivered'; status: number }
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'retry'; delaySeconds: number; reason: string }
  | { outcome: 'failed'; reason: string }

/** Injectable edges of delivery: the HTTP call and the clock. */
export interface DeliveryDeps {
  fetch: typeof fetch
  now: () => number
}

/** Delay before attempt n + 1: 10 s · 2^(n − 1), at most an hour. */
export function backoffSeconds(attempts: number): number {
  return Math.min(10 * 2 ** Math.max(attempts - 1, 0), MAX_DELAY_S)
}

/**
 * The Queue consumer: POSTs each queued event to its webhook (`retrain.requested` and rollout events
 * to the retraining policy's, `slo.breached` / `slo.recovered` to the SLOs'; ModelControl.webhookTarget), signed
 * (`X-Edgefleet-Signature: t=<ms>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`) with the event id as
 * `Idempotency-Key`. A 2xx is recorded as `webhook.delivered`; a 408/425/429/5xx or a network error is
 * retried with backoff until WEBHOOK_MAX_ATTEMPTS, then recorded as `webhook.failed`, as is any other
 * 4xx at once (the receiver refused it). Recording events is idempotent (derived ids).
 */
export async function deliverRetrainBatch(
  batch: MessageBatch<RetrainMessage>,
  env: Env,
  deps: DeliveryDeps = { fetch: (...a) => fetch(...a), now: Date.now },
): Promise<void> {
  const max = telemetryConfig(env).webhookMaxAttempts
  for (const msg of batch.messages) {
    const body = msg.body as Partial<RetrainMessage> | null
    if (typeof body?.eventId !== 'string' || typeof body.model !== 'string') {
      console.error('dropping a malformed retraining message', msg.id)
      msg.ack()
      continue
    }
    let d: Delivery
    try {
      d = await deliverOne(msg.body, msg.attempts, max, env, deps)
    } catch (e) {
      // D1 or the ModelControl was unreachable: not the receiver's fault, try again later.
      console.error('webhook delivery errored', e)
      d =
        msg.attempts >= max
          ? { outcome: 'failed', reason: String(e) }
          : { outcome: 'retry', delaySeconds: backoffSeconds(msg.attempts), reason: String(e) }
    }
    if (d.outcome === 'retry') {
      msg.retry({ delaySeconds: d.delaySeconds })
      continue
    }
    if (d.outcome === 'delivered' || d.outcome === 'failed') {
      try {
        await recordOutcome(env, msg.body, d, msg.attempts, deps.now())
      } catch (e) {
        console.error('recording the webhook outcome failed', e)
        msg.retry({ delaySeconds: backoffSeconds(1) })
        continue
      }
    }
    msg.ack()
  }
}

async function deliverOne(
  m: RetrainMessage,
  attempts: number,
  max: number,
  env: Env,
  deps: DeliveryDeps,
): Promise<Delivery> {
  const event = await getEvent(env.DB, m.eventId)
  if (!event)
    return attempts >= max
      ? { outcome: 'failed', reason: 'event not found' }
      : { outcome: 'retry', delaySeconds: backoffSeconds(attempts), reason: 'event not found yet' }
  const control = modelControl(env, m.model)
  const target = await control.webhookTarget(event.type)
  if (!target) return { outcome: 'skipped', reason: `no webhook is set for ${event.type}` }
  const body = JSON.stringify({
    id: event.id,
    type: event.type,
    model: event.model,
    at: event.at,
    details: event.details,
  })
  const t = deps.now()
  let status: number
  try {
    const res = await deps.fetch(target.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'edgefleet-webhook/1',
        [SIGNATURE_HEADER]: await signWebhook(target.secret, t, body),
        'Idempotency-Key': event.id,
        'X-Edgefleet-Event': event.type,
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    })
    status = res.status
    await res.body?.cancel()
  } catch (e) {
    const reason = `network error: ${e instanceof Error ? e.message : String(e)}`
    return attempts >= max
      ? { outcome: 'failed', reason }
      : { outcome: 'retry', delaySeconds: backoffSeconds(attempts), reason }
  }
  if (status >= 200 && status < 300) return { outcome: 'delivered', status }
  const transient = status === 408 || status === 425 || status === 429 || status >= 500
  if (!transient) return { outcome: 'failed', reason: `the receiver answered ${status}` }
  return attempts >= max
    ? { outcome: 'failed', reason: `the receiver answered ${status} ${attempts} times` }
    : { outcome: 'retry', delaySeconds: backoffSeconds(attempts), reason: `the receiver answered ${status}` }
}

async function recordOutcome(
  env: Env,
  m: RetrainMessage,
  d: Delivery & { outcome: 'delivered' | 'failed' },
  attempts: number,
  at: number,
): Promise<void> {
  const type = d.outcome === 'delivered' ? 'webhook.delivered' : 'webhook.failed'
  const details =
    d.outcome === 'delivered'
      ? { eventId: m.eventId, status: d.status, attempts }
      : { eventId: m.eventId, reason: d.reason, attempts }
  await insertEvent(env.DB, {
    id: await derivedEventId(m.eventId, type),
    type,
    model: m.model,
    actor: 'webhook',
    at,
    details,
  }).run()
}

/** A stable event id for an outcome of an event, so a redelivered message records it once. */
async function derivedEventId(eventId: string, type: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${eventId}:${type}`))
  return 'evt_' + toHex(new Uint8Array(digest).slice(0, 10))
}
