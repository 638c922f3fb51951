import type { Context, MiddlewareHandler } from 'hono'
import { cors } from 'hono/cors'
import type { AppEnv } from '../env.ts'

const DEVICE_READ = /^\/v1\/artifacts\/[^/]+$/
const DEVICE_ANY = /^\/v1\/(assign\/[^/]+|telemetry)$/

/** Device routes are called from customers' pages on any origin (an app key may narrow it). */
function isDeviceRoute(c: Context<AppEnv>): boolean {
  const path = new URL(c.req.url).pathname
  if (DEVICE_ANY.test(path)) return true
  const method = c.req.method === 'OPTIONS' ? (c.req.header('Access-Control-Request-Method') ?? '') : c.req.method
  return DEVICE_READ.test(path) && (method === 'GET' || method === 'HEAD')
}

/** Origins configured for admin routes (`ADMIN_ORIGINS`, comma-separated); the dashboard is same-origin. */
function adminOrigins(env: Env): string[] {
  return (env.ADMIN_ORIGINS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

/**
 * Cross-origin policy: device routes answer preflights for any origin (the app key's own allow-list
 * is enforced on the actual request, which carries the key) and expose ETag, Retry-After and
 * Content-Range; admin routes allow only `ADMIN_ORIGINS`.
 */
export function corsPolicy(): MiddlewareHandler<AppEnv> {
  const handler = cors({
    origin: (origin, c: Context<AppEnv>) => (isDeviceRoute(c) || adminOrigins(c.env).includes(origin) ? origin : null),
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowHeaders: ['Authorization', 'Content-Type', 'Content-Encoding', 'X-Edgefleet-Key', 'If-None-Match', 'Range'],
    exposeHeaders: ['ETag', 'Retry-After', 'Content-Range', 'Content-Length', 'Accept-Ranges'],
    maxAge: 86400,
  })
  return async function corsPolicyMiddleware(c, next) {
    return handler(c, next)
  }
}
