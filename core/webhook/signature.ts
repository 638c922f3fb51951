/**
 * Webhook signatures (`X-Edgefleet-Signature`), as Stripe-style timestamped HMACs:
 * `t=<ms>,v1=<hex HMAC-SHA256(secret, t + "." + body)>` (HMAC: RFC 2104; SHA-256: FIPS 180-4).
 * The timestamp inside the MAC lets a receiver refuse replays older than a tolerance; comparing in
 * constant time (WebCrypto's `verify`) leaks nothing about the expected MAC. Uses only WebCrypto, so
 * it runs unchanged in Node, workerd and browsers; the clock is a parameter.
 */
import { toHex } from '../hex.ts'

export const SIGNATURE_HEADER = 'X-Edgefleet-Signature'
/** Receivers should refuse signatures older (or newer) than this by default. */
export const DEFAULT_TOLERANCE_MS = 5 * 60_000

const encoder = new TextEncoder()

async function hmacKey(secret: string, usage: 'sign' | 'verify'): ReturnType<typeof crypto.subtle.importKey> {
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [usage])
}

/** The header value signing `body` at time `t` (ms since epoch) with `secret`. */
export async function signWebhook(secret: string, t: number, body: string): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', await hmacKey(secret, 'sign'), encoder.encode(`${t}.${body}`))
  return `t=${t},v1=${toHex(mac)}`
}

/**
 * Checks a signature header against the raw body: true when one `v1` MAC matches and `t` lies within
 * `toleranceMs` of `now`. Verify the exact bytes received, before parsing the JSON.
 *
 * @example if (!(await verifyWebhook(secret, req.headers.get(SIGNATURE_HEADER), await req.text(), Date.now()))) return new Response(null, { status: 401 })
 */
export async function verifyWebhook(
  secret: string,
  header: string | null,
  body: string,
  now: number,
  toleranceMs = DEFAULT_TOLERANCE_MS,
): Promise<boolean> {
  if (!header) return false
  const parts = header.split(',').map((p) => p.trim().split('='))
  const t = Number(parts.find(([k]) => k === 't')?.[1])
  if (!Number.isSafeInteger(t) || Math.abs(now - t) > toleranceMs) return false
  const key = await hmacKey(secret, 'verify')
  for (const [k, v] of parts) {
    if (k !== 'v1' || !/^[0-9a-f]{64}$/.test(v ?? '')) continue
    const mac = Uint8Array.from(v.match(/../g)!, (h) => parseInt(h, 16))
    if (await crypto.subtle.verify('HMAC', key, mac, encoder.encode(`${t}.${body}`))) return true
  }
  return false
}
