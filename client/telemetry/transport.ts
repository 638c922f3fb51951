import { errorFromBody } from '../../core/wire-error.ts'
import type { DropReason } from './queue.ts'

/** What became of one send: accepted, to be retried at a time, or refused for good. */
export type SendOutcome =
  | { kind: 'sent' }
  | { kind: 'retry'; at: number; reason: 'rate_limited' | 'network_error' }
  | { kind: 'drop'; reason: DropReason; status: number }

export interface TransportOptions {
  /** The edge, e.g. `https://models.example.com`. */
  endpoint: string
  appKey: string
  fetch?: typeof fetch
  now?: () => number
  /** Uniform in [0, 1), for backoff jitter. */
  random?: () => number
  /** Compress bodies with gzip when `CompressionStream` exists (default true). */
  gzip?: boolean
  /** `navigator.sendBeacon` or a stand-in; absent: keepalive fetch. */
  sendBeacon?: (url: string, data: BodyInit) => boolean
  timeoutMs?: number
}

/** Bytes the browser lets keepalive requests and beacons hold in flight together (Fetch spec: 64 KiB). */
export const KEEPALIVE_BUDGET_BYTES = 64 * 1024
/** First retry delay after a network error or 5xx; doubles per consecutive failure. */
export const BACKOFF_BASE_MS = 1_000
/** Longest delay between two attempts. */
export const BACKOFF_MAX_MS = 60 * 60_000
const DEFAULT_RETRY_AFTER_MS = 60_000

/**
 * When a `Retry-After` header allows the next attempt (RFC 9110 §10.2.3: delay-seconds or an
 * HTTP-date), as epoch ms; a missing or unreadable header means 60 s.
 *
 * @example parseRetryAfter('10', 1_000) // 11_000
 */
export function parseRetryAfter(header: string | null | undefined, now: number): number {
  const value = header?.trim()
  if (value && /^\d+$/.test(value)) return now + Math.min(Number(value) * 1000, BACKOFF_MAX_MS)
  const date = value ? Date.parse(value) : NaN
  if (Number.isFinite(date)) return Math.min(Math.max(date, now), now + BACKOFF_MAX_MS)
  return now + DEFAULT_RETRY_AFTER_MS
}

/**
 * The delay before attempt `failures + 1`: 1 s · 2^(failures − 1), capped at 1 h, jittered down by up
 * to 20% (`× (0.8 + 0.2 · random)`) so devices that failed together do not retry together.
 */
export function backoffMs(failures: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1), BACKOFF_MAX_MS)
  return Math.round(base * (0.8 + 0.2 * random()))
}

/** Sorts an edge answer into sent / retry / drop (`too_old` and `too_new` codes are final `too_old` drops). */
export async function classifyResponse(
  res: Response,
  now: number,
  failures: number,
  random: () => number,
): Promise<SendOutcome> {
  if (res.status === 202 || (res.status >= 200 && res.status < 300)) return { kind: 'sent' }
  if (res.status === 429 || res.status === 503)
    return { kind: 'retry', at: parseRetryAfter(res.headers.get('Retry-After'), now), reason: 'rate_limited' }
  if (res.status >= 500 || res.status === 408)
    return { kind: 'retry', at: now + backoffMs(failures, random), reason: 'network_error' }
  const { code } = errorFromBody(await res.json().catch(() => null), res.status, '')
  return { kind: 'drop', reason: code === 'too_old' || code === 'too_new' ? 'too_old' : 'rejected', status: res.status }
}

/** Sends frozen batches to `POST /v1/telemetry`. */
export interface Transport {
  /** Sends one batch body; never throws. Retry timing accounts for this transport's consecutive failures. */
  send(body: string): Promise<SendOutcome>
  /** The earliest time the next send is allowed (rate limit or backoff), epoch ms. */
  readonly retryAt: number
  /**
   * Sends as many bodies as fit one shared 64 KiB keepalive budget, in order, without awaiting an
   * answer (the page is going away); returns how many were handed to the browser.
   */
  flushOnHide(bodies: string[]): number
  /**
   * The browser says the network is back (`online`): a backoff that network failures caused ends now,
   * so the queue goes out at once; a wait the edge asked for (429/503 `Retry-After`) still holds.
   */
  online(): void
}

/**
 * A telemetry transport in the manner of Sentry's `createTransport`: the HTTP call is injected, the
 * answer is classified, and rate limits and backoff are state of the transport.
 *
 * @example
 * const t = createTransport({ endpoint, appKey })
 * const outcome = await t.send(queued.body) // {kind: 'sent'} | {kind: 'retry', at} | {kind: 'drop', reason}
 */
export function createTransport(options: TransportOptions): Transport {
  const endpoint = options.endpoint.replace(/\/$/, '')
  const now = options.now ?? Date.now
  const random = options.random ?? Math.random
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init))
  const canGzip = (options.gzip ?? true) && typeof CompressionStream !== 'undefined'
  let failures = 0
  let retryAt = 0
  /** Whether the current wait comes from network failures (ended by `online`) rather than the edge's Retry-After. */
  let networkBackoff = false

  return {
    get retryAt() {
      return retryAt
    },

    async send(body: string): Promise<SendOutcome> {
      let outcome: SendOutcome
      try {
        const headers: Record<string, string> = {
          'Content-Type': 'application/json',
          'X-Edgefleet-Key': options.appKey,
        }
        let payload: BodyInit = body
        if (canGzip) {
          payload = await gzip(body)
          headers['Content-Encoding'] = 'gzip'
        }
        const res = await doFetch(`${endpoint}/v1/telemetry`, {
          method: 'POST',
          headers,
          body: payload,
          signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
        })
        outcome = await classifyResponse(res, now(), failures + 1, random)
      } catch {
        outcome = { kind: 'retry', at: now() + backoffMs(failures + 1, random), reason: 'network_error' }
      }
      if (outcome.kind === 'retry') {
        if (outcome.reason === 'network_error') failures++
        networkBackoff = outcome.reason === 'network_error'
        retryAt = outcome.at
      } else {
        // A refusal is an answer: the edge is reachable, so the backoff starts over.
        failures = 0
        retryAt = 0
      }
      return outcome
    },

    online(): void {
      if (!networkBackoff) return
      networkBackoff = false
      failures = 0
      retryAt = 0
    },

    flushOnHide(bodies: string[]): number {
      // Uncompressed: CompressionStream is asynchronous and a hidden page may be frozen before it
      // finishes. text/plain keeps a beacon CORS-simple; the key goes in the query for the same reason.
      const url = `${endpoint}/v1/telemetry?key=${encodeURIComponent(options.appKey)}`
      let budget = KEEPALIVE_BUDGET_BYTES
      let handed = 0
      for (const body of bodies) {
        const blob = new Blob([body], { type: 'text/plain;charset=UTF-8' })
        if (blob.size > budget) break
        let ok: boolean
        try {
          if (options.sendBeacon) ok = options.sendBeacon(url, blob)
          else {
            void doFetch(url, {
              method: 'POST',
              body: blob,
              keepalive: true,
              headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
            }).catch(() => undefined)
            ok = true
          }
        } catch {
          ok = false
        }
        if (!ok) break
        budget -= blob.size
        handed++
      }
      return handed
    },
  }
}

/** gzip with the platform's CompressionStream (deterministic for equal input). */
export async function gzip(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))
  return new Uint8Array(await new Response(stream).arrayBuffer())
}
