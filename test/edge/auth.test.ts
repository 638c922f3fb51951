import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test'
import { beforeAll, describe, expect, it } from 'vitest'
import { forgetAppKey, resolvePrincipal } from '../../edge/auth/middleware.ts'
import { DEV_ADMIN_TOKEN } from '../../edge/auth/secrets.ts'
import { revokeToken } from '../../edge/db/tokens.ts'
import worker from '../../edge/index.ts'
import { api, bodyOf, createModel, resetState, upload } from './api.ts'
import { sampleRun } from './run-fixtures.ts'

const SCOPES = ['registry:read', 'registry:write', 'rollout:write', 'telemetry:read', 'admin', 'device'] as const
type Scope = (typeof SCOPES)[number]

let secrets: Record<Scope, string>
let file: { path: string; sha256: string; size: number }

async function createToken(name: string, scopes: string[], origins?: string[]): Promise<{ id: string; token: string }> {
  const res = await api('POST', '/v1/tokens', { body: { name, scopes, ...(origins ? { origins } : {}) } })
  expect(res.status).toBe(201)
  return bodyOf(res)
}

beforeAll(async () => {
  await resetState()
  await createModel('m')
  file = await upload('m.onnx', new Uint8Array([1, 2, 3]))
  await api('POST', '/v1/models/m/versions', { body: { files: [file] } })
  secrets = {} as Record<Scope, string>
  for (const scope of SCOPES) secrets[scope] = (await createToken(`t-${scope.replace(':', '-')}`, [scope])).token
})

// The route → scopes matrix of the API (admin holds every scope; registry:write implies registry:read).
let created = 0
const routes: [string, string, () => Record<string, unknown>, Scope[]][] = [
  ['POST', '/v1/models', () => ({ body: { name: `created-${++created}`, format: 'onnx' } }), ['registry:write']],
  ['GET', '/v1/models', () => ({}), ['registry:read']],
  ['GET', '/v1/models/m', () => ({}), ['registry:read']],
  [
    'PUT',
    '/v1/artifacts/' + 'c'.repeat(64),
    () => ({ raw: 'abc', headers: { 'Content-Length': '3', 'Content-Type': 'application/octet-stream' } }),
    ['registry:write'],
  ],
  ['GET', '/v1/artifacts/FILE', () => ({}), ['device', 'registry:read']],
  [
    'PUT',
    '/v1/artifacts/FILE/encodings/gzip',
    () => ({ raw: 'abc', headers: { 'Content-Length': '3', 'Content-Type': 'application/octet-stream' } }),
    ['registry:write'],
  ],
  [
    'POST',
    '/v1/artifacts/' + 'c'.repeat(64) + '/uploads',
    () => ({ body: { size: 12 * 1024 * 1024, partBytes: 5 * 1024 * 1024 } }),
    ['registry:write'],
  ],
  [
    'PUT',
    '/v1/artifacts/' + 'c'.repeat(64) + '/uploads/up-missing/parts/1',
    () => ({ raw: 'abc', headers: { 'Content-Length': '3', 'Content-Type': 'application/octet-stream' } }),
    ['registry:write'],
  ],
  ['POST', '/v1/artifacts/' + 'c'.repeat(64) + '/uploads/up-missing/complete', () => ({}), ['registry:write']],
  ['DELETE', '/v1/artifacts/' + 'c'.repeat(64) + '/uploads/up-missing', () => ({}), ['registry:write']],
  ['POST', '/v1/models/m/versions', () => ({ body: { files: [file] } }), ['registry:write']],
  ['GET', '/v1/models/m/versions/1', () => ({}), ['registry:read']],
  ['PATCH', '/v1/models/m/versions/999', () => ({ body: { deprecated: true } }), ['registry:write']],
  ['PUT', '/v1/models/m/aliases/staging', () => ({ body: { version: 1 } }), ['registry:write']],
  ['GET', '/v1/models/m/cohorts', () => ({}), ['registry:read']],
  ['PUT', '/v1/models/m/cohorts', () => ({ body: { name: 'store', values: ['store-0001'] } }), []],
  ['PUT', '/v1/models/m/cohorts/store-0001/pin', () => ({ body: { version: 1 } }), []],
  ['DELETE', '/v1/models/m/cohorts/store-0001/pin', () => ({}), []],
  ['GET', '/v1/assign/m?device=dev_0123456789abcdef', () => ({}), ['device']],
  ['POST', '/v1/models/m/runs', () => ({ body: sampleRun() }), ['registry:write']],
  ['GET', '/v1/models/m/runs', () => ({}), ['registry:read']],
  ['GET', `/v1/models/m/runs/run_${'0'.repeat(20)}`, () => ({}), ['registry:read']],
  ['GET', '/v1/events', () => ({}), ['telemetry:read', 'registry:read']],
  ['POST', '/v1/models/m/rollouts', () => ({ body: { candidate: 99, steps: [{ percent: 10 }] } }), ['rollout:write']],
  ['GET', '/v1/models/m/rollouts/ro_0000000000000000', () => ({}), ['registry:read']],
  ...(['pause', 'resume', 'advance', 'rollback', 'promote'] as const).map(
    (action) =>
      ['POST', `/v1/models/m/rollouts/ro_0000000000000000/${action}`, () => ({ body: {} }), ['rollout:write']] as [
        string,
        string,
        () => Record<string, unknown>,
        Scope[],
      ],
  ),
  ['PUT', '/v1/models/m/policy', () => ({ body: { when: { anyFeatureDrifted: {} } } }), []],
  ['GET', '/v1/models/m/policy', () => ({}), ['telemetry:read']],
  ['POST', '/v1/models/m/policy/evaluate', () => ({ body: {} }), []],
  ['PUT', '/v1/models/m/slo', () => ({ body: { objectives: [{ name: 'e', kind: 'error_rate', target: 0.99 }] } }), []],
  ['GET', '/v1/models/m/slo', () => ({}), ['telemetry:read']],
  ['GET', '/v1/models/m/slo/status', () => ({}), ['telemetry:read']],
  ['POST', '/v1/models/m/slo/evaluate', () => ({}), []],
  ['POST', '/v1/telemetry', () => ({ body: { schema: 'telemetry/1' } }), ['device']],
  ['GET', '/v1/models/m/telemetry', () => ({}), ['telemetry:read']],
  ['GET', '/v1/telemetry/refusals', () => ({}), ['telemetry:read']],
  ['GET', '/v1/tokens/self', () => ({}), [...SCOPES]],
  ['POST', '/v1/tokens', () => ({ body: { name: 'n', scopes: ['registry:read'] } }), []],
  ['GET', '/v1/tokens', () => ({}), []],
  ['DELETE', '/v1/tokens/tok_0000000000000000', () => ({}), []],
]

describe('scope × route matrix', () => {
  const cases = routes.flatMap(([method, path, opts, allowed]) =>
    SCOPES.map(
      (scope) =>
        [
          method,
          path,
          scope,
          scope === 'admin' ||
            allowed.includes(scope) ||
            (scope === 'registry:write' && allowed.includes('registry:read')),
          opts,
        ] as const,
    ),
  )
  it.each(cases)('%s %s with %s → allowed: %s', async (method, path, scope, allowed, opts) => {
    const res = await api(method, path.replace('FILE', file.sha256), { ...opts(), token: secrets[scope] })
    if (allowed) expect([401, 403]).not.toContain(res.status)
    else {
      expect(res.status).toBe(403)
      expect((await bodyOf(res)).error.code).toBe('forbidden')
    }
  })

  it('covers every route the OpenAPI document lists, except the public ones', async () => {
    const spec = (await (await api('GET', '/openapi.json', { token: null })).json()) as {
      paths: Record<string, Record<string, unknown>>
    }
    const documented = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    )
    const template = (path: string) =>
      path
        .split('?')[0]
        .replace(/^\/v1\/artifacts\/(FILE|c{64})/, '/v1/artifacts/{sha256}')
        .replace(/\/encodings\/gzip$/, '/encodings/{encoding}')
        .replace(/\/uploads\/up-missing/, '/uploads/{uploadId}')
        .replace(/\/parts\/1$/, '/parts/{partNumber}')
        .replace(/^\/v1\/models\/m(?=\/|$)/, '/v1/models/{model}')
        .replace(/^\/v1\/assign\/m$/, '/v1/assign/{model}')
        .replace(/\/versions\/\d+$/, '/versions/{version}')
        .replace(/\/aliases\/[a-z]+$/, '/aliases/{alias}')
        .replace(/\/cohorts\/store-0001\/pin$/, '/cohorts/{cohort}/pin')
        .replace(/\/(runs|rollouts)\/(run|ro)_[0-9]+/, '/$1/{id}')
        .replace(/^\/v1\/tokens\/tok_[0-9]+$/, '/v1/tokens/{id}')
    const covered = new Set(routes.map(([method, path]) => `${method} ${template(path)}`))
    const publicRoutes = new Set(['GET /healthz', 'GET /v1'])
    expect(documented.filter((op) => !covered.has(op) && !publicRoutes.has(op))).toEqual([])
    expect(covered.size).toBe(routes.length)
  })

  it.each(routes)('%s %s without a token → 401', async (method, path, opts) => {
    const res = await api(method, path.replace('FILE', file.sha256), { ...opts(), token: null })
    expect(res.status).toBe(401)
    expect((await bodyOf(res)).error.code).toBe('unauthorized')
  })
})

describe('tokens', () => {
  it('keeps only hashes, shows the secret once, lists without secrets, and revokes at once', async () => {
    const t = await createToken('ci-bot', ['registry:read'])
    expect(t.token).toMatch(/^ef_[A-Za-z0-9_-]{43}$/)
    const rows = JSON.stringify((await env.DB.prepare('SELECT * FROM tokens').all()).results)
    expect(rows).not.toContain(t.token)
    const list = await bodyOf(await api('GET', '/v1/tokens'))
    expect(JSON.stringify(list)).not.toContain(t.token)
    expect(list.tokens.find((x: any) => x.id === t.id)).toMatchObject({
      name: 'ci-bot',
      scopes: ['registry:read'],
      revokedAt: null,
    })

    expect((await api('GET', '/v1/models', { token: t.token })).status).toBe(200)
    const revoked = await api('DELETE', `/v1/tokens/${t.id}`)
    expect(revoked.status).toBe(200)
    expect((await bodyOf(revoked)).revokedAt).toBeTypeOf('number')
    const after = await api('GET', '/v1/models', { token: t.token })
    expect(after.status).toBe(401)
    expect((await api('DELETE', '/v1/tokens/tok_ffffffffffffffff')).status).toBe(404)
    const { events } = await bodyOf(await api('GET', '/v1/events?type=token.*'))
    expect(events.map((e: any) => e.type)).toContain('token.revoked')
    expect(JSON.stringify(events)).not.toContain(t.token)
  })

  it('tells any valid token its own name and scopes at /v1/tokens/self, and nothing without one', async () => {
    const reader = await createToken('fleet-viewer', ['telemetry:read'])
    const self = await api('GET', '/v1/tokens/self', { token: reader.token })
    expect(self.status).toBe(200)
    expect(await bodyOf(self)).toEqual({ name: 'fleet-viewer', scopes: ['telemetry:read'] })
    expect(await bodyOf(await api('GET', '/v1/tokens/self'))).toEqual({ name: 'admin', scopes: ['admin'] })
    expect((await api('GET', '/v1/tokens/self', { token: null })).status).toBe(401)
    expect((await api('GET', '/v1/tokens/self', { token: 'nope' })).status).toBe(401)
    await api('DELETE', `/v1/tokens/${reader.id}`)
    expect((await api('GET', '/v1/tokens/self', { token: reader.token })).status).toBe(401)
  })

  it('refuses an app key mixed with other scopes, and unknown scopes', async () => {
    const mixed = await api('POST', '/v1/tokens', { body: { name: 'x', scopes: ['device', 'registry:read'] } })
    expect(mixed.status).toBe(400)
    expect((await bodyOf(mixed)).error.pointer).toBe('/scopes')
    const unknown = await api('POST', '/v1/tokens', { body: { name: 'x', scopes: ['root'] } })
    expect(unknown.status).toBe(400)
  })

  it('rejects garbage credentials and malformed Authorization headers with 401', async () => {
    const variants: Record<string, string>[] = [
      { Authorization: 'Bearer nope' },
      { Authorization: 'Basic abc' },
      { 'X-Edgefleet-Key': 'nope' },
    ]
    for (const headers of variants) {
      const res = await api('GET', '/v1/models', { token: null, headers })
      expect(res.status).toBe(401)
    }
  })

  it('accepts an app key in X-Edgefleet-Key or ?key=, and only from its allowed origins', async () => {
    const key = await createToken('web-app', ['device'], ['https://app.example'])
    const path = `/v1/artifacts/${file.sha256}`
    expect((await api('GET', path, { token: null, headers: { 'X-Edgefleet-Key': key.token } })).status).toBe(200)
    expect((await api('GET', `${path}?key=${key.token}`, { token: null })).status).toBe(200)
    expect(
      (
        await api('GET', path, {
          token: null,
          headers: { 'X-Edgefleet-Key': key.token, Origin: 'https://app.example' },
        })
      ).status,
    ).toBe(200)
    const evil = await api('GET', path, {
      token: null,
      headers: { 'X-Edgefleet-Key': key.token, Origin: 'https://evil.example' },
    })
    expect(evil.status).toBe(403)
  })

  it('holds an origin-limited app key to its origins on every device route', async () => {
    const key = await createToken('shop-only', ['device'], ['https://shop.example'])
    const call = (method: string, path: string, origin: string, body?: unknown) =>
      api(method, path, { token: null, body, headers: { 'X-Edgefleet-Key': key.token, Origin: origin } })
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/assign/m?device=d-origin'],
      ['GET', `/v1/artifacts/${file.sha256}`],
      ['POST', '/v1/telemetry', { v: 1 }],
    ]
    for (const [method, path, body] of routes) {
      const evil = await call(method, path, 'https://evil.example', body)
      expect(evil.status, `${method} ${path}`).toBe(403)
      expect((await bodyOf(evil)).error.code).toBe('forbidden')
      // From its own origin the key passes; what follows is the route's own answer (a bad batch is 400).
      const own = await call(method, path, 'https://shop.example', body)
      expect([401, 403], `${method} ${path}`).not.toContain(own.status)
      await own.arrayBuffer()
    }
  })

  it('refuses the published local admin token when ENVIRONMENT is production', async () => {
    const call = async (environment: string) => {
      const ctx = createExecutionContext()
      const res = await worker.fetch(
        new Request('http://edge.test/v1/models', { headers: { Authorization: `Bearer ${DEV_ADMIN_TOKEN}` } }),
        { ...env, ENVIRONMENT: environment, EDGEFLEET_ADMIN_TOKEN: DEV_ADMIN_TOKEN },
        ctx,
      )
      await waitOnExecutionContext(ctx)
      return res.status
    }
    expect(await call('development')).toBe(200)
    expect(await call('production')).toBe(401)
  })
})

describe('revocation and the per-isolate app key cache', () => {
  // The isolate's clock is a parameter of resolvePrincipal: the TTL is checked without waiting for it.
  const ttlMs = Number(env.APP_KEY_CACHE_SECONDS) * 1000

  it('states the TTL that README and SECURITY.md give: 5 s', () => {
    expect(ttlMs).toBe(5_000)
  })

  it('refuses a revoked app key at once in the isolate that revoked it', async () => {
    const key = await createToken('revoked-here', ['device'])
    const t0 = Date.now()
    expect(await resolvePrincipal(env, key.token, t0)).toMatchObject({ tokenId: key.id })
    // What DELETE /v1/tokens/:id does: revoke in D1, forget the isolate's cached entry.
    await revokeToken(env.DB, key.id, t0).run()
    forgetAppKey(key.id)
    expect(await resolvePrincipal(env, key.token, t0 + 1)).toBeNull()
  })

  it('in another isolate, serves a revoked app key from its cache until the TTL has passed, then refuses it', async () => {
    const key = await createToken('revoked-elsewhere', ['device'])
    const t0 = Date.now()
    // This isolate cached the key; another one revokes it: D1 says so, this cache was not told.
    expect(await resolvePrincipal(env, key.token, t0)).toMatchObject({ tokenId: key.id })
    await revokeToken(env.DB, key.id, t0).run()
    expect(await resolvePrincipal(env, key.token, t0 + ttlMs - 1)).toMatchObject({ tokenId: key.id })
    expect(await resolvePrincipal(env, key.token, t0 + ttlMs)).toBeNull()
    expect(await resolvePrincipal(env, key.token, t0 + ttlMs + 60_000)).toBeNull()
  })

  it('never caches API tokens: revoked anywhere, refused at once everywhere', async () => {
    const token = await createToken('api-token', ['registry:read'])
    const t0 = Date.now()
    expect(await resolvePrincipal(env, token.token, t0)).toMatchObject({ tokenId: token.id })
    await revokeToken(env.DB, token.id, t0).run()
    expect(await resolvePrincipal(env, token.token, t0 + 1)).toBeNull()
    const res = await api('GET', '/v1/models', { token: token.token })
    expect(res.status).toBe(401)
  })
})

describe('CORS', () => {
  it('answers device preflights for any origin and exposes ETag, Retry-After, Content-Range', async () => {
    const res = await api('OPTIONS', `/v1/artifacts/${file.sha256}`, {
      token: null,
      headers: {
        Origin: 'https://shop.example',
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'x-edgefleet-key, range',
      },
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('https://shop.example')
    expect(res.headers.get('Access-Control-Allow-Headers')?.toLowerCase()).toContain('x-edgefleet-key')
    const get = await api('GET', `/v1/artifacts/${file.sha256}`, {
      token: secrets.device,
      headers: { Origin: 'https://shop.example' },
    })
    expect(get.headers.get('Access-Control-Allow-Origin')).toBe('https://shop.example')
    for (const h of ['etag', 'retry-after', 'content-range'])
      expect(get.headers.get('Access-Control-Expose-Headers')?.toLowerCase()).toContain(h)
  })

  it('gives admin routes no cross-origin access unless the origin is configured', async () => {
    const res = await api('OPTIONS', '/v1/models', {
      token: null,
      headers: { Origin: 'https://shop.example', 'Access-Control-Request-Method': 'POST' },
    })
    expect(res.headers.get('Access-Control-Allow-Origin')).toBeNull()
    const upload = await api('OPTIONS', `/v1/artifacts/${file.sha256}`, {
      token: null,
      headers: { Origin: 'https://shop.example', 'Access-Control-Request-Method': 'PUT' },
    })
    expect(upload.headers.get('Access-Control-Allow-Origin')).toBeNull()
  })

  it('answers every device route for any origin', async () => {
    for (const [path, method] of [
      ['/v1/assign/m', 'GET'],
      ['/v1/telemetry', 'POST'],
      [`/v1/artifacts/${file.sha256}`, 'HEAD'],
    ]) {
      const res = await api('OPTIONS', path, {
        token: null,
        headers: { Origin: 'https://any.example', 'Access-Control-Request-Method': method },
      })
      expect(res.status, path).toBe(204)
      expect(res.headers.get('Access-Control-Allow-Origin'), path).toBe('https://any.example')
    }
    const assign = await api('GET', '/v1/assign/m?device=d-cors', {
      token: secrets.device,
      headers: { Origin: 'https://any.example' },
    })
    expect(assign.headers.get('Access-Control-Allow-Origin')).toBe('https://any.example')
  })

  it('opens admin routes to the configured ADMIN_ORIGINS and to no other origin', async () => {
    const call = async (origin: string, method: string, path: string, headers: Record<string, string> = {}) => {
      const ctx = createExecutionContext()
      const res = await worker.fetch(
        new Request(`http://edge.test${path}`, { method, headers: { Origin: origin, ...headers } }),
        { ...env, ADMIN_ORIGINS: 'https://console.example, https://ops.example' },
        ctx,
      )
      await waitOnExecutionContext(ctx)
      return res
    }
    const preflight = { 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' }
    for (const origin of ['https://console.example', 'https://ops.example']) {
      const res = await call(origin, 'OPTIONS', '/v1/models', preflight)
      expect(res.status).toBe(204)
      expect(res.headers.get('Access-Control-Allow-Origin')).toBe(origin)
      const get = await call(origin, 'GET', '/v1/models', { Authorization: `Bearer ${secrets['registry:read']}` })
      expect(get.status).toBe(200)
      expect(get.headers.get('Access-Control-Allow-Origin')).toBe(origin)
    }
    for (const origin of ['https://shop.example', 'https://console.example.evil.example', 'null']) {
      const res = await call(origin, 'OPTIONS', '/v1/models', preflight)
      expect(res.headers.get('Access-Control-Allow-Origin'), origin).toBeNull()
    }
  })
})
