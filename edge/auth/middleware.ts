import type { MiddlewareHandler } from 'hono'
import { EdgefleetError } from '../../core/errors.ts'
import type { Scope } from '../../core/formats/registry.ts'
import { findLiveToken, touchToken } from '../db/tokens.ts'
import type { AppEnv } from '../env.ts'
import { hasScope, type Principal } from './principal.ts'
import { DEV_ADMIN_TOKEN, digestHex, secretDigest } from './secrets.ts'

/** Where a credential came from: `Authorization` carries any token; the other two carry app keys only. */
export type CredentialSource = 'authorization' | 'header' | 'query'

/**
 * The credential a request carries: `Authorization: Bearer <token>` for people and tools,
 * `X-Edgefleet-Key` for devices, or `?key=` where a header cannot be set (sendBeacon).
 */
export function credentialOf(req: Request): { secret: string; source: CredentialSource } | null {
  const auth = req.headers.get('Authorization')
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    return m ? { secret: m[1], source: 'authorization' } : null
  }
  const header = req.headers.get('X-Edgefleet-Key')
  if (header !== null) return { secret: header, source: 'header' }
  const query = new URL(req.url).searchParams.get('key')
  return query === null ? null : { secret: query, source: 'query' }
}

/** True for an app key: a token whose only scope is `device`. */
export function isAppKey(principal: Principal): boolean {
  return principal.scopes.length === 1 && principal.scopes[0] === 'device'
}

/**
 * App keys (scope `device`) found in D1, kept per isolate for APP_KEY_CACHE_SECONDS: device routes
 * (telemetry, assignment) are the hot path, and one D1 lookup per request caps them at D1's rate.
 * A revocation clears the revoking isolate's entry at once and reaches the others within the TTL.
 * API tokens are never cached, so their revocation is immediate everywhere.
 */
const appKeys = new Map<string, { principal: Principal; until: number }>()
const MAX_CACHED_APP_KEYS = 1_000

/** When this isolate last recorded each token's use: `lastUsedAt` is kept to the minute, so one write a minute suffices. */
const touchedAt = new Map<string, number>()
const TOUCH_EVERY_MS = 60_000

function shouldTouch(tokenId: string, now: number): boolean {
  const last = touchedAt.get(tokenId)
  if (last !== undefined && now - last < TOUCH_EVERY_MS) return false
  touchedAt.delete(tokenId)
  touchedAt.set(tokenId, now)
  if (touchedAt.size > MAX_CACHED_APP_KEYS) touchedAt.delete(touchedAt.keys().next().value!)
  return true
}

/** Forgets a cached app key in this isolate (on revocation). */
export function forgetAppKey(tokenId: string): void {
  for (const [secret, entry] of appKeys) if (entry.principal.tokenId === tokenId) appKeys.delete(secret)
}

function appKeyTtlMs(env: Env): number {
  const seconds = Number(env.APP_KEY_CACHE_SECONDS ?? 0)
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 300) * 1000 : 0
}

let admins: { token: string; digest: Promise<ArrayBuffer> } | null = null

/** The admin token's digest, computed once per isolate (and again only if the secret changes). */
function adminDigest(token: string): Promise<ArrayBuffer> {
  if (admins?.token !== token) admins = { token, digest: secretDigest(token) }
  return admins.digest
}

/**
 * Resolves a credential to a principal: the environment's admin token, or a live stored token. It
 * records nothing: the caller marks the token used (`touchToken`) once the request is allowed.
 */
export async function resolvePrincipal(env: Env, secret: string, now: number): Promise<Principal | null> {
  // App keys are public (they ship in pages) and only app keys are cached: a hit needs no digest.
  const known = appKeys.get(secret)
  if (known && known.until > now) return known.principal
  const admin = env.EDGEFLEET_ADMIN_TOKEN
  // One digest of the presented secret per request: compared in constant time with the admin token's
  // (digested once per isolate), then looked up among stored tokens.
  const digest = await secretDigest(secret)
  if (admin && crypto.subtle.timingSafeEqual(digest, await adminDigest(admin))) {
    // The published local default must never open a production deployment.
    if (env.ENVIRONMENT === 'production' && admin === DEV_ADMIN_TOKEN) return null
    return { tokenId: 'env', name: 'admin', scopes: ['admin'], origins: null }
  }
  const hash = digestHex(digest)
  const token = await findLiveToken(env.DB, hash)
  if (!token) return null
  const principal: Principal = { tokenId: token.id, name: token.name, scopes: token.scopes, origins: token.origins }
  const ttl = appKeyTtlMs(env)
  if (ttl > 0 && isAppKey(principal)) {
    appKeys.delete(secret)
    appKeys.set(secret, { principal, until: now + ttl })
    if (appKeys.size > MAX_CACHED_APP_KEYS) appKeys.delete(appKeys.keys().next().value!)
  }
  return principal
}

/**
 * Requires a credential holding one of `scopes` (`admin` holds all): 401 `unauthorized` without a
 * valid one, 403 `forbidden` with the wrong scope. An app key used from a browser must come from one
 * of its allowed origins. API tokens (and the admin token) count only in `Authorization`: in
 * `X-Edgefleet-Key` or `?key=` they would end up in logs, proxies and Referer headers, so there
 * they are 401 like an unknown key. A token's `lastUsedAt` is recorded only when it was let in.
 *
 * @example app.get('/v1/models', requireScope('registry:read'), handler)
 */
export function requireScope(...scopes: Scope[]): MiddlewareHandler<AppEnv> {
  if (scopes.length === 0) throw new Error('requireScope needs at least one scope')
  return async function requireScopeMiddleware(c, next) {
    const credential = credentialOf(c.req.raw)
    if (!credential) throw new EdgefleetError('unauthorized', 'a token is required: Authorization: Bearer <token>')
    const now = Date.now()
    const principal = await resolvePrincipal(c.env, credential.secret, now)
    if (!principal) throw new EdgefleetError('unauthorized', 'the token is unknown or revoked')
    if (credential.source !== 'authorization' && !isAppKey(principal))
      throw new EdgefleetError(
        'unauthorized',
        'X-Edgefleet-Key and ?key= carry app keys only; send API tokens as Authorization: Bearer <token>',
      )
    if (!scopes.some((s) => hasScope(principal, s)))
      throw new EdgefleetError('forbidden', `this route needs the scope ${scopes.join(' or ')}`)
    const origin = c.req.header('Origin')
    if (origin && principal.origins && !principal.origins.includes(origin))
      throw new EdgefleetError('forbidden', `origin ${origin} is not allowed for this key`)
    if (principal.tokenId !== 'env' && shouldTouch(principal.tokenId, now)) {
      const touch = touchToken(c.env.DB, principal.tokenId, now).catch(() => undefined)
      try {
        c.executionCtx.waitUntil(touch)
      } catch {
        // app.request() in tests has no execution context: the touch simply runs unawaited.
      }
    }
    c.set('principal', principal)
    await next()
  }
}
