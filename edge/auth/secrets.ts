/** Secrets of API tokens and app keys: 256 random bits, stored only as their SHA-256. */
import { toHex as hex } from '../../core/hex.ts'

/** The local development admin token, accepted only when `ENVIRONMENT` is not `production`. */
export const DEV_ADMIN_TOKEN = 'ef_dev_admin_token_local_only'

/** A new token secret: `ef_` + 43 base64url characters (32 random bytes). */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  return (
    'ef_' +
    btoa(String.fromCharCode(...bytes))
      .replaceAll('+', '-')
      .replaceAll('/', '_')
      .replace(/=+$/, '')
  )
}

/** A new token id: `tok_` + 16 hex characters. */
export function newTokenId(): string {
  return 'tok_' + hex(crypto.getRandomValues(new Uint8Array(8)).buffer)
}

/** SHA-256 of a secret, hex. A fast hash suffices: secrets carry 256 bits of entropy. */
export async function hashSecret(secret: string): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret)))
}

/** SHA-256 of a secret, raw: one digest serves both the admin comparison and the stored-token lookup. */
export function secretDigest(secret: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret))
}

/** Hex of a digest, as tokens are stored. */
export function digestHex(digest: ArrayBuffer): string {
  return hex(digest)
}

/** Compares two secrets in constant time (over their digests, so lengths may differ). */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder()
  const [da, db] = await Promise.all([
    crypto.subtle.digest('SHA-256', enc.encode(a)),
    crypto.subtle.digest('SHA-256', enc.encode(b)),
  ])
  return crypto.subtle.timingSafeEqual(da, db)
}
