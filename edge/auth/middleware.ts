import type { MiddlewareHandler } from 'hono'
import { EdgefleetError } from '../../core/errors.ts'
import type { Scope } from '../../core/formats/registry.ts'
import { findLiveToken, touchToken } from '../db/tokens.ts'
import type { AppEnv } from '../env.ts'
import { hasScope, type Principal } from './principal.ts'
import { DEV_ADMIN_TOKEN, hashSecret, secretsEqual } from './secrets.ts'

/**
 * The credential a request carries: `Authorization: Bearer <token>` for people and tools,
 * `X-Edgefleet-Key` for devices, or `?key=` where a header cannot be set (sendBeacon).
 */
export function credentialOf(req: Request): string | null {
  const auth = req.headers.get('Authorization')
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    return m ? m[1] : null
  }
  return req.headers.get('X-Edgefleet-Key') ?? new URL(req.url).searchParams.get('key')
}

/**
 * App keys (scope `device`) found in D1, kept per isolate for APP_KEY_CACHE_SECONDS: device routes
 * (telemetry, assignment) are the hot path, and one D1 lookup per request caps them at D1's rate.
 * A revocation clears the revoking isolate's entry at once and reaches the others within the TTL.
 * API tokens are never cached, so their revocation is immediate everywhere.
 */
const appKeys = new Map<string, { principal: Principal; until: number }>()
const MAX_CACHED_APP_KEYS = 1_000

/** Forgets a cached app key in this isolate (on revocation). */
export function forgetAppKey(tokenId: string): void {
  for (const [hash, entry] of appKeys) if (entry.principal.tokenId === tokenId) appKeys.delete(hash)
}

function appKeyTtlMs(env: Env): number {
  const seconds = Number(env.APP_KEY_CACHE_SECONDS ?? 0)
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 300) * 1000 : 0
}

/** Resolves a credential to a principal: the environment's admin token, or a live stored token. */
export async function resolvePrincipal(
  env: Env,
  secret: string,
  now: number,
  waitUntil?: (p: Promise<unknown>) => void,
): Promise<Principal | null> {
  const admin = env.EDGEFLEET_ADMIN_TOKEN
  if (admin && (await secretsEqual(secret, admin))) {
    // The published local default must never open a production deployment.
    if (env.ENVIRONMENT === 'production' && admin === DEV_ADMIN_TOKEN) return null
    return { tokenId: 'env', name: 'admin', scopes: ['admin'], origins: null }
  }
  const hash = await hashSecret(secret)
  const cached = appKeys.get(hash)
  if (cached && cached.until > now) return cached.principal
  const token = await findLiveToken(env.DB, hash)
  if (!token) return null
  const touch = touchToken(env.DB, token.id, now).catch(() => undefined)
  waitUntil?.(touch)
  const principal: Principal = { tokenId: token.id, name: token.name, scopes: token.scopes, origins: token.origins }
  const ttl = appKeyTtlMs(env)
  if (ttl > 0 && token.scopes.length === 1 && token.scopes[0] === 'device') {
    appKeys.delete(hash)
    appKeys.set(hash, { principal, until: now + ttl })
    if (appKeys.size > MAX_CACHED_APP_KEYS) appKeys.delete(appKeys.keys().next().value!)
  }
  return principal
}

/**
 * Requires a credential holding one of `scopes` (`admin` holds all): 401 `unauthorized` without a
 * valid one, 403 `forbidden` with the wrong scope. An app key used from a browser must come from one
 * of its allowed origins.
 *
 * @example app.get('/v1/models', requireScope('registry:read'), handler)
 */
export function requireScope(...scopes: Scope[]): MiddlewareHandler<AppEnv> {
  if (scopes.length === 0) throw new Error('requireScope needs at least one scope')
  return async function requireScopeMiddleware(c, next) {
    const secret = credentialOf(c.req.raw)
    if (!secret) throw new EdgefleetError('unauthorized', 'a token is required: Authorization: Bearer <token>')
    let waitUntil: ((p: Promise<unknown>) => void) | undefined
    try {
      const ctx = c.executionCtx
      waitUntil = (p) => ctx.waitUntil(p)
    } catch {
      // app.request() in tests has no execution context: the touch simply runs unawaited.
    }
    const principal = await resolvePrincipal(c.env, secret, Date.now(), waitUntil)
    if (!principal) throw new EdgefleetError('unauthorized', 'the token is unknown or revoked')
    if (!scopes.some((s) => hasScope(principal, s)))
      throw new EdgefleetError('forbidden', `this route needs the scope ${scopes.join(' or ')}`)
    const origin = c.req.header('Origin')
    if (origin && principal.origins && !principal.origins.includes(origin))
      throw new EdgefleetError('forbidden', `origin ${origin} is not allowed for this key`)
    c.set('principal', principal)
    await next()
  }
}
