/**
 * @module
 * The retrainer's side of the `retrain.requested` webhook: checks a delivery exactly as the edge signs
 * it (`X-Edgefleet-Signature: t=<ms>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`, see
 * core/webhook/signature.ts), refuses stale or future timestamps and replays of an event already
 * accepted. Decisions return a value and a reason; the clock is a parameter.
 */
import { DEFAULT_TOLERANCE_MS, verifyWebhook } from '../../core/webhook/signature.ts'

/** A `retrain.requested` event as the webhook body carries it. */
export interface TriggerEvent {
  id: string
  type: string
  model: string
  at: number
  details?: unknown
}

/** Why a delivery was accepted or refused (refusals answer 401, replays 200 without a second run). */
export type DeliveryVerdict =
  | { value: TriggerEvent; reason: 'accepted' }
  | { value: null; reason: 'missing_signature' | 'stale_timestamp' | 'bad_signature' | 'bad_body' | 'replay' }

/** Event ids already accepted, bounded: the oldest are forgotten first (the edge also refuses a second run per trigger). */
export class SeenEvents {
  readonly #ids = new Set<string>()
  constructor(readonly capacity = 10_000) {}
  has(id: string): boolean {
    return this.#ids.has(id)
  }
  add(id: string): void {
    this.#ids.add(id)
    if (this.#ids.size > this.capacity) this.#ids.delete(this.#ids.values().next().value as string)
  }
}

function timestampOf(header: string): number {
  const t = header
    .split(',')
    .map((p) => p.trim().split('='))
    .find(([k]) => k === 't')?.[1]
  return Number(t)
}

/**
 * Judges one delivery: the raw body and its signature header, checked before parsing. A delivery
 * whose event id was accepted before is a `replay`, even when freshly signed (the edge retries).
 */
export async function checkDelivery(
  secret: string,
  header: string | null,
  body: string,
  seen: SeenEvents,
  now: number,
  toleranceMs = DEFAULT_TOLERANCE_MS,
): Promise<DeliveryVerdict> {
  if (header === null || header.trim() === '') return { value: null, reason: 'missing_signature' }
  const t = timestampOf(header)
  if (!Number.isSafeInteger(t) || Math.abs(now - t) > toleranceMs) return { value: null, reason: 'stale_timestamp' }
  if (!(await verifyWebhook(secret, header, body, now, toleranceMs))) return { value: null, reason: 'bad_signature' }
  let event: Partial<TriggerEvent>
  try {
    event = JSON.parse(body) as Partial<TriggerEvent>
  } catch {
    return { value: null, reason: 'bad_body' }
  }
  if (typeof event?.id !== 'string' || typeof event.model !== 'string' || typeof event.type !== 'string')
    return { value: null, reason: 'bad_body' }
  if (seen.has(event.id)) return { value: null, reason: 'replay' }
  seen.add(event.id)
  return { value: event as TriggerEvent, reason: 'accepted' }
}
