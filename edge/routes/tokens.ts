import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import * as z from 'zod'
import { EdgefleetError } from '../../core/errors.ts'
import { CreatedToken, CreateToken, Scope, Token } from '../../core/formats/registry.ts'
import { forgetAppKey, requireScope } from '../auth/middleware.ts'
import { hashSecret, newSecret, newTokenId } from '../auth/secrets.ts'
import { insertEvent } from '../db/events.ts'
import { getToken, insertToken, listTokens, revokeToken } from '../db/tokens.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../http/errors.ts'
import { bearer, errors, json, jsonBody, notFound } from './openapi.ts'

/** `/v1/tokens`: scoped API tokens and app keys (scope `device`). Secrets are shown once, stored hashed. */
export const tokens = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

tokens.openapi(
  createRoute({
    method: 'post',
    path: '/v1/tokens',
    summary: 'Create a token; the secret is in this response only',
    tags: ['tokens'],
    security: bearer,
    middleware: [requireScope('admin')] as const,
    request: { body: jsonBody(CreateToken) },
    responses: { 201: json(CreatedToken, 'The token, with its secret'), ...errors },
  }),
  async (c) => {
    const body = c.req.valid('json')
    const secret = newSecret()
    const at = Date.now()
    const actor = c.get('principal').name
    const token = {
      id: newTokenId(),
      name: body.name,
      scopes: body.scopes,
      origins: body.origins ?? null,
      createdAt: at,
      createdBy: actor,
    }
    await c.env.DB.batch([
      insertToken(c.env.DB, token, await hashSecret(secret)),
      insertEvent(c.env.DB, {
        type: 'token.created',
        model: null,
        actor,
        at,
        details: { id: token.id, name: token.name, scopes: token.scopes },
      }),
    ])
    return c.json({ ...token, lastUsedAt: null, revokedAt: null, token: secret }, 201)
  },
)

tokens.openapi(
  createRoute({
    method: 'get',
    path: '/v1/tokens',
    summary: 'List tokens (never their secrets)',
    tags: ['tokens'],
    security: bearer,
    middleware: [requireScope('admin')] as const,
    responses: { 200: json(z.object({ tokens: z.array(Token) }), 'Every token, revoked ones included'), ...errors },
  }),
  async (c) => c.json({ tokens: await listTokens(c.env.DB) }, 200),
)

/** What the caller's own token may do, so a dashboard shows only the views and buttons it can use. */
const SelfToken = z.object({
  name: z.string(),
  scopes: z.array(Scope),
})

tokens.openapi(
  createRoute({
    method: 'get',
    path: '/v1/tokens/self',
    summary: "The calling token's name and scopes (any valid token)",
    tags: ['tokens'],
    security: bearer,
    middleware: [requireScope(...Scope.options)] as const,
    responses: { 200: json(SelfToken, 'The calling token'), ...errors },
  }),
  async (c) => {
    const p = c.get('principal')
    return c.json({ name: p.name, scopes: [...p.scopes] }, 200)
  },
)

tokens.openapi(
  createRoute({
    method: 'delete',
    path: '/v1/tokens/{id}',
    summary: 'Revoke a token, effective at once (an app key: within APP_KEY_CACHE_SECONDS in other isolates)',
    tags: ['tokens'],
    security: bearer,
    middleware: [requireScope('admin')] as const,
    request: { params: z.object({ id: z.string().regex(/^tok_[0-9a-f]{16}$/, 'a token id') }) },
    responses: { 200: json(Token, 'The revoked token'), ...errors, ...notFound },
  }),
  async (c) => {
    const { id } = c.req.valid('param')
    const before = await getToken(c.env.DB, id)
    if (!before) throw new EdgefleetError('not_found', `token ${id} does not exist`)
    if (before.revokedAt === null) {
      const at = Date.now()
      const actor = c.get('principal').name
      await c.env.DB.batch([
        revokeToken(c.env.DB, id, at),
        insertEvent(c.env.DB, { type: 'token.revoked', model: null, actor, at, details: { id, name: before.name } }),
      ])
      forgetAppKey(id)
    }
    return c.json((await getToken(c.env.DB, id))!, 200)
  },
)
