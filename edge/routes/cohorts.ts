/**
 * @module
 * `/v1/models/:model/cohorts`: the allow-list of cohort labels a model declares and the cohorts
 * pinned to a version (docs/rollouts.md, "Cohorts"). Every change is an audit event written in the
 * same transaction as the change.
 */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import * as z from 'zod'
import { EdgefleetError } from '../../core/errors.ts'
import { CohortAllowList, CohortLabel, CohortsView, PinCohort } from '../../core/formats/cohort.ts'
import { registryCache } from '../assign/registry-cache.ts'
import { requireScope } from '../auth/middleware.ts'
import {
  deletePin,
  getCohorts,
  keepsPinned,
  listPins,
  pinnable,
  pinVersion,
  putCohorts,
  upsertPin,
} from '../db/cohorts.ts'
import { insertEvent } from '../db/events.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../http/errors.ts'
import { modelParam } from './models.ts'
import { bearer, conflict, errors, json, jsonBody, notFound } from './openapi.ts'
import { requireModel } from './require-model.ts'
import { requireVersion } from './versions.ts'

/** The answer to a pin or unpin: where the cohort is pinned now (null: nowhere) and before. */
const PinMove = z.object({
  model: z.string(),
  cohort: z.string(),
  version: z.number().int().nullable(),
  previous: z.number().int().nullable(),
})

const cohortParam = modelParam.extend({ cohort: CohortLabel })

export const cohorts = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

async function requireListed(db: D1Database, model: string, cohort: string): Promise<void> {
  await requireModel(db, model)
  if (!(await getCohorts(db, model))?.values.includes(cohort))
    throw new EdgefleetError('not_found', `cohort "${cohort}" is not in the allow-list of model "${model}"`)
}

async function viewOf(db: D1Database, model: string): Promise<CohortsView> {
  const [list, pins] = await Promise.all([getCohorts(db, model), listPins(db, model)])
  return {
    model,
    name: list?.name ?? 'cohort',
    values: list?.values ?? [],
    pins,
    updatedAt: list?.updatedAt ?? null,
    updatedBy: list?.updatedBy ?? null,
  }
}

cohorts.openapi(
  createRoute({
    method: 'get',
    path: '/v1/models/{model}/cohorts',
    summary: "A model's cohort allow-list and pins",
    tags: ['registry'],
    security: bearer,
    middleware: [requireScope('registry:read')] as const,
    request: { params: modelParam },
    responses: {
      200: json(CohortsView, 'The allow-list (empty when none is declared) and the pins'),
      ...errors,
      ...notFound,
    },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    await requireModel(c.env.DB, model)
    return c.json(await viewOf(c.env.DB, model), 200)
  },
)

cohorts.openapi(
  createRoute({
    method: 'put',
    path: '/v1/models/{model}/cohorts',
    summary: "Set a model's cohort allow-list",
    description:
      'Replaces the allow-list: at most 10,000 unique labels of `[A-Za-z0-9_.:-]{1,64}`. Devices sending a label outside it are treated as sending none. A pinned cohort cannot be dropped (409: unpin it first).',
    tags: ['registry'],
    security: bearer,
    middleware: [requireScope('admin')] as const,
    request: { params: modelParam, body: jsonBody(CohortAllowList) },
    responses: {
      200: json(CohortsView, 'The allow-list and pins after the change'),
      ...errors,
      ...notFound,
      ...conflict,
    },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    const { name, values } = c.req.valid('json')
    await requireModel(c.env.DB, model)
    const before = new Set((await getCohorts(c.env.DB, model))?.values ?? [])
    const after = new Set(values)
    const at = Date.now()
    const actor = c.get('principal').name
    const labels = JSON.stringify(values)
    const [, written] = await c.env.DB.batch([
      insertEvent(
        c.env.DB,
        {
          type: 'cohorts.updated',
          model,
          actor,
          at,
          details: {
            name,
            labels: values.length,
            added: values.filter((v) => !before.has(v)).length,
            removed: [...before].filter((v) => !after.has(v)).length,
          },
        },
        { when: keepsPinned('?7', '?8'), args: [model, labels] },
      ),
      putCohorts(c.env.DB, { model, name, values, at, by: actor }),
    ])
    if (written.meta.changes === 0) {
      const dropped = (await listPins(c.env.DB, model)).filter((p) => !after.has(p.cohort)).map((p) => p.cohort)
      throw new EdgefleetError(
        'conflict',
        `cohort ${dropped.join(', ')} is pinned and cannot leave the allow-list; unpin it first`,
        { pointer: '/values' },
      )
    }
    registryCache(c.env).forget(model)
    return c.json(await viewOf(c.env.DB, model), 200)
  },
)

cohorts.openapi(
  createRoute({
    method: 'put',
    path: '/v1/models/{model}/cohorts/{cohort}/pin',
    summary: 'Pin a cohort to a version',
    description:
      'Devices of the cohort run this version whatever `production` points at, and take part in no rollout. The cohort must be in the allow-list (404 otherwise) and the version live (409 `deprecated`).',
    tags: ['registry'],
    security: bearer,
    middleware: [requireScope('admin')] as const,
    request: { params: cohortParam, body: jsonBody(PinCohort) },
    responses: { 200: json(PinMove, 'The pin after the change'), ...errors, ...notFound, ...conflict },
  }),
  async (c) => {
    const { model, cohort } = c.req.valid('param')
    const { version } = c.req.valid('json')
    await requireListed(c.env.DB, model, cohort)
    const target = await requireVersion(c.env.DB, model, version)
    if (target.deprecatedAt !== null)
      throw new EdgefleetError('deprecated', `version ${version} is deprecated and cannot be pinned`, {
        pointer: '/version',
      })
    const at = Date.now()
    const actor = c.get('principal').name
    const unchanged = 'NOT EXISTS (SELECT 1 FROM cohort_pins WHERE model = ?7 AND cohort = ?9 AND version = ?8)'
    const [before, event] = await c.env.DB.batch<{ version: number }>([
      pinVersion(c.env.DB, model, cohort),
      insertEvent(
        c.env.DB,
        { type: 'cohort.pinned', model, actor, at, details: { cohort, to: version } },
        {
          when: `${pinnable('?7', '?8', '?9')} AND ${unchanged}`,
          set: { from: 'SELECT version FROM cohort_pins WHERE model = ?7 AND cohort = ?9' },
          args: [model, version, cohort],
        },
      ),
      upsertPin(c.env.DB, { model, cohort, version, at, by: actor }),
    ])
    registryCache(c.env).forget(model)
    const previous = before.results[0]?.version ?? null
    if (previous !== version && event.meta.changes === 0)
      throw new EdgefleetError(
        'conflict',
        `the pin of "${cohort}" changed meanwhile (version deprecated or cohort dropped)`,
        {
          pointer: '/version',
        },
      )
    return c.json({ model, cohort, version, previous }, 200)
  },
)

cohorts.openapi(
  createRoute({
    method: 'delete',
    path: '/v1/models/{model}/cohorts/{cohort}/pin',
    summary: "Remove a cohort's pin",
    description:
      'The cohort follows `production` and rollouts again. Removing a pin that does not exist changes nothing; a cohort outside the allow-list is 404.',
    tags: ['registry'],
    security: bearer,
    middleware: [requireScope('admin')] as const,
    request: { params: cohortParam },
    responses: { 200: json(PinMove, 'The cohort, now unpinned'), ...errors, ...notFound },
  }),
  async (c) => {
    const { model, cohort } = c.req.valid('param')
    await requireListed(c.env.DB, model, cohort)
    const at = Date.now()
    const actor = c.get('principal').name
    const [before] = await c.env.DB.batch<{ version: number }>([
      pinVersion(c.env.DB, model, cohort),
      insertEvent(
        c.env.DB,
        { type: 'cohort.unpinned', model, actor, at, details: { cohort } },
        {
          when: 'EXISTS (SELECT 1 FROM cohort_pins WHERE model = ?7 AND cohort = ?8)',
          set: { from: 'SELECT version FROM cohort_pins WHERE model = ?7 AND cohort = ?8' },
          args: [model, cohort],
        },
      ),
      deletePin(c.env.DB, model, cohort),
    ])
    registryCache(c.env).forget(model)
    return c.json({ model, cohort, version: null, previous: before.results[0]?.version ?? null }, 200)
  },
)
