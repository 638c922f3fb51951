import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import { EdgefleetError } from '../../core/errors.ts'
import { AliasMove, MoveAlias, Slug } from '../../core/formats/registry.ts'
import { registryCache } from '../assign/registry-cache.ts'
import { requireScope } from '../auth/middleware.ts'
import { aliasVersion, upsertAlias } from '../db/aliases.ts'
import { insertEvent } from '../db/events.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../http/errors.ts'
import { modelParam } from './models.ts'
import { bearer, conflict, errors, json, jsonBody, notFound } from './openapi.ts'
import { requireVersion } from './versions.ts'

/** `PUT /v1/models/:model/aliases/:alias`: point an alias at a version; every move is an event. */
export const aliases = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

aliases.openapi(
  createRoute({
    method: 'put',
    path: '/v1/models/{model}/aliases/{alias}',
    summary: 'Move an alias (production, staging, …) to a version',
    tags: ['registry'],
    security: bearer,
    middleware: [requireScope('registry:write')] as const,
    request: { params: modelParam.extend({ alias: Slug }), body: jsonBody(MoveAlias) },
    responses: { 200: json(AliasMove, 'The alias after the move'), ...errors, ...notFound, ...conflict },
  }),
  async (c) => {
    const { model, alias } = c.req.valid('param')
    const { version } = c.req.valid('json')
    const target = await requireVersion(c.env.DB, model, version)
    if (target.deprecatedAt !== null)
      throw new EdgefleetError('deprecated', `version ${version} is deprecated and cannot be aliased`, {
        pointer: '/version',
      })
    const at = Date.now()
    const actor = c.get('principal').name
    // One transaction reads where the alias points, records the move only if it moves (and onto a
    // live version), and moves it: concurrent moves each see the state the previous one left, so
    // `previous` is what this move replaced and no event records a move from a version to itself.
    const unchanged = 'NOT EXISTS (SELECT 1 FROM aliases WHERE model = ?7 AND alias = ?9 AND version = ?8)'
    const live = 'EXISTS (SELECT 1 FROM versions WHERE model = ?7 AND version = ?8 AND deprecated_at IS NULL)'
    const [before, event] = await c.env.DB.batch<{ version: number }>([
      aliasVersion(c.env.DB, model, alias),
      insertEvent(
        c.env.DB,
        { type: 'alias.moved', model, actor, at, details: { alias, to: version } },
        {
          when: `${live} AND ${unchanged}`,
          set: { from: 'SELECT version FROM aliases WHERE model = ?7 AND alias = ?9' },
          args: [model, version, alias],
        },
      ),
      upsertAlias(c.env.DB, { model, alias, version, at, by: actor }),
    ])
    registryCache(c.env).forget(model)
    const previous = before.results[0]?.version ?? null
    if (previous !== version && event.meta.changes === 0)
      throw new EdgefleetError('deprecated', `version ${version} was deprecated meanwhile`, { pointer: '/version' })
    return c.json({ model, alias, version, previous }, 200)
  },
)
