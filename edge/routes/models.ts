import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import * as z from 'zod'
import { EdgefleetError } from '../../core/errors.ts'
import { ModelName } from '../../core/formats/common.ts'
import { CreateModel, Model, ModelDetail, ModelPage } from '../../core/formats/registry.ts'
import type { RolloutView } from '../../core/formats/rollout.ts'
import { requireScope } from '../auth/middleware.ts'
import { modelControl } from '../control/stub.ts'
import { insertEvent } from '../db/events.ts'
import { getModel, insertModel, listModels } from '../db/models.ts'
import { listVersions } from '../db/versions.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../http/errors.ts'
import { decimalInt } from '../http/params.ts'
import { bearer, conflict, errors, json, jsonBody, notFound } from './openapi.ts'

export const modelParam = z.object({ model: ModelName })

const ModelQuery = z.object({
  after: ModelName.optional().describe('a cursor from a previous page (`next`): models after this name'),
  limit: decimalInt({ min: 1, max: 1000 }).default(100),
})

/** `/v1/models`: create, list and read models. */
export const models = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

models.openapi(
  createRoute({
    method: 'post',
    path: '/v1/models',
    summary: 'Create a model',
    tags: ['registry'],
    security: bearer,
    middleware: [requireScope('registry:write')] as const,
    request: { body: jsonBody(CreateModel) },
    responses: { 201: json(Model, 'The new model'), ...errors, ...conflict },
  }),
  async (c) => {
    const body = c.req.valid('json')
    const at = Date.now()
    const actor = c.get('principal').name
    try {
      await c.env.DB.batch([
        insertModel(c.env.DB, { ...body, createdAt: at, createdBy: actor }),
        insertEvent(c.env.DB, {
          type: 'model.created',
          model: body.name,
          actor,
          at,
          details: { format: body.format, task: body.task },
        }),
      ])
    } catch (cause) {
      if (await getModel(c.env.DB, body.name))
        throw new EdgefleetError('conflict', `model "${body.name}" already exists`, { pointer: '/name', cause })
      throw cause
    }
    return c.json((await getModel(c.env.DB, body.name))!, 201)
  },
)

models.openapi(
  createRoute({
    method: 'get',
    path: '/v1/models',
    summary: 'List models',
    tags: ['registry'],
    security: bearer,
    middleware: [requireScope('registry:read')] as const,
    request: { query: ModelQuery },
    responses: {
      200: json(ModelPage, 'A page of models by name; pass `next` as `after` for the following page'),
      ...errors,
    },
  }),
  async (c) => c.json(await listModels(c.env.DB, c.req.valid('query')), 200),
)

models.openapi(
  createRoute({
    method: 'get',
    path: '/v1/models/{model}',
    summary: 'A model with its aliases, versions and current rollout',
    tags: ['registry'],
    security: bearer,
    middleware: [requireScope('registry:read')] as const,
    request: { params: modelParam },
    responses: { 200: json(ModelDetail, 'The model'), ...errors, ...notFound },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    const m = await getModel(c.env.DB, model)
    if (!m) throw new EdgefleetError('not_found', `model "${model}" does not exist`)
    const versions = (await listVersions(c.env.DB, model)).map((v) => ({
      version: v.version,
      files: v.files.length,
      size: v.files.reduce((a, f) => a + f.size, 0),
      createdAt: v.lineage.createdAt,
      createdBy: v.lineage.createdBy,
      parent: v.lineage.parent ?? null,
      deprecated: v.deprecatedAt !== null,
      aliases: v.aliases,
      metrics: v.metrics,
      ...(v.lineage.runId !== undefined ? { runId: v.lineage.runId } : {}),
      ...(v.lineage.triggerEvent !== undefined ? { triggerEvent: v.lineage.triggerEvent } : {}),
    }))
    const rollout = (await modelControl(c.env, model).getRollout('current')) as RolloutView | null
    return c.json(
      {
        ...m,
        versions,
        rollout: rollout && (rollout.status === 'running' || rollout.status === 'paused') ? rollout : null,
      },
      200,
    )
  },
)
