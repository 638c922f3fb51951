/**
 * @module
 * `/v1/models/:model/runs`: retraining runs recorded by the retrainer (experiment tracking). Recording
 * a run records `retrain.completed`, `retrain.rejected` or `retrain.failed` with the run id; a trigger
 * event produces at most one completed run.
 */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import * as z from 'zod'
import { EdgefleetError } from '../../core/errors.ts'
import { toHex } from '../../core/hex.ts'
import { CreateRun, Run, RunId, RunPage, RunStatus, RunTrigger } from '../../core/formats/run.ts'
import { requireScope } from '../auth/middleware.ts'
import { insertEvent } from '../db/events.ts'
import { getModel } from '../db/models.ts'
import { completedRunOf, getRun, insertRun, isUniqueViolation, listRuns } from '../db/runs.ts'
import { getVersion } from '../db/versions.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../http/errors.ts'
import { decimalInt } from '../http/params.ts'
import { modelParam } from './models.ts'
import { bearer, conflict, errors, json, jsonBody, notFound } from './openapi.ts'
import { requireModel } from './require-model.ts'

const runParam = modelParam.extend({ id: RunId })

const RunQuery = z.object({
  status: RunStatus.optional(),
  trigger: RunTrigger.optional().describe('runs of one trigger: a retrain.requested event id, or manual'),
  before: decimalInt().optional().describe('a cursor from a previous page (`next`)'),
  limit: decimalInt({ min: 1, max: 200 }).default(50),
})

/** The event a run's outcome records. */
const OUTCOME_EVENT = {
  completed: 'retrain.completed',
  rejected: 'retrain.rejected',
  failed: 'retrain.failed',
} as const

/** `/v1/models/:model/runs`: record, list and read retraining runs. */
export const runs = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

runs.openapi(
  createRoute({
    method: 'post',
    path: '/v1/models/{model}/runs',
    summary: 'Record a retraining run',
    description:
      'The retrainer chooses the id (`run_` + 20 hex) so a published version can name it in its lineage. Recording an id again returns the stored run (200). A `completed` run has every gate passed, a `rejected` one at least one failed, a `failed` one an `error`. A trigger event has at most one completed run (409 otherwise). Records `retrain.completed`, `retrain.rejected` or `retrain.failed` with the run id.',
    tags: ['runs'],
    security: bearer,
    middleware: [requireScope('registry:write')] as const,
    request: { params: modelParam, body: jsonBody(CreateRun) },
    responses: {
      201: json(Run, 'The recorded run'),
      200: json(Run, 'The run, recorded before under this id'),
      ...errors,
      ...notFound,
      ...conflict,
    },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    const body = c.req.valid('json')
    await requireModel(c.env.DB, model)
    const before = await getRun(c.env.DB, model, body.id)
    if (before) return c.json(before, 200)
    checkConsistent(body)
    if (body.version !== null) {
      const v = await getVersion(c.env.DB, model, body.version)
      if (!v)
        throw new EdgefleetError('validation_failed', `version ${body.version} does not exist`, { pointer: '/version' })
      if (v.lineage.runId !== body.id)
        throw new EdgefleetError(
          'validation_failed',
          `version ${body.version} was not published by run ${body.id} (its lineage names ${v.lineage.runId ?? 'no run'})`,
          { pointer: '/version' },
        )
    }
    // Checked here for a clear answer, and again by the database (unique index) for concurrent runs.
    await refuseSecondCompletion(c.env.DB, model, body)
    const at = Date.now()
    const actor = c.get('principal').name
    const run: Run = { ...body, model, createdAt: at, createdBy: actor }
    const type = OUTCOME_EVENT[run.status]
    const failed = run.gates.filter((g) => !g.passed)
    const written = c.env.DB.batch([
      insertRun(c.env.DB, run),
      insertEvent(c.env.DB, {
        id: await runEventId(run.id, type),
        type,
        model,
        actor,
        at,
        details: {
          runId: run.id,
          trigger: run.trigger,
          version: run.version,
          ...(run.metrics ? { accuracy: run.metrics.accuracy } : {}),
          ...(failed.length ? { gates: failed.map((g) => g.message) } : {}),
          ...(run.error !== null ? { error: run.error } : {}),
        },
      }),
    ])
    try {
      await written
    } catch (err) {
      // The batch is one transaction: a lost race wrote neither the run nor its event.
      if (!isUniqueViolation(err)) throw err
      const raced = await getRun(c.env.DB, model, body.id)
      if (raced) return c.json(raced, 200)
      await refuseSecondCompletion(c.env.DB, model, body)
      throw err
    }
    const stored = (await getRun(c.env.DB, model, run.id))!
    return c.json(stored, 201)
  },
)

runs.openapi(
  createRoute({
    method: 'get',
    path: '/v1/models/{model}/runs',
    summary: "A model's retraining runs, newest first",
    tags: ['runs'],
    security: bearer,
    middleware: [requireScope('registry:read')] as const,
    request: { params: modelParam, query: RunQuery },
    responses: { 200: json(RunPage, 'A page of runs; pass `next` as `before` for older ones'), ...errors, ...notFound },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    const q = c.req.valid('query')
    await requireModel(c.env.DB, model)
    return c.json(await listRuns(c.env.DB, { model, ...q }), 200)
  },
)

runs.openapi(
  createRoute({
    method: 'get',
    path: '/v1/models/{model}/runs/{id}',
    summary: 'One retraining run: parameters, data, metrics, gates, champion, trigger and version',
    tags: ['runs'],
    security: bearer,
    middleware: [requireScope('registry:read')] as const,
    request: { params: runParam },
    responses: { 200: json(Run, 'The run'), ...errors, ...notFound },
  }),
  async (c) => {
    const { model, id } = c.req.valid('param')
    const run = await getRun(c.env.DB, model, id)
    if (!run) {
      const exists = await getModel(c.env.DB, model)
      throw new EdgefleetError(
        'not_found',
        exists ? `model "${model}" has no run ${id}` : `model "${model}" does not exist`,
      )
    }
    return c.json(run, 200)
  },
)

/** Status, gates, version and error must tell the same story. */
function checkConsistent(run: z.output<typeof CreateRun>): void {
  const failed = run.gates.filter((g) => !g.passed).length
  const refuse = (message: string, pointer: string) => {
    throw new EdgefleetError('validation_failed', message, { pointer })
  }
  if (run.status === 'completed' && failed > 0) refuse('a completed run has every gate passed', '/status')
  if (run.status === 'completed' && run.metrics === null) refuse('a completed run has metrics', '/metrics')
  if (run.status === 'rejected' && failed === 0) refuse('a rejected run has a failed gate', '/status')
  if (run.status === 'failed' && run.error === null) refuse('a failed run says why in error', '/error')
  if (run.status !== 'completed' && run.version !== null) refuse(`a ${run.status} run publishes nothing`, '/version')
  if (run.rollout !== null && run.version === null) refuse('a rollout needs a published version', '/rollout')
  if (run.finishedAt < run.startedAt) refuse('finishedAt is before startedAt', '/finishedAt')
}

/** A stable event id per run and outcome, so recording a run again records its event once. */
async function runEventId(runId: string, type: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${runId}:${type}`))
  return 'evt_' + toHex(new Uint8Array(digest).slice(0, 10))
}

/** 409 when the run would be a second `completed` run of one trigger event. */
async function refuseSecondCompletion(
  db: D1Database,
  model: string,
  body: { trigger: string; status: string },
): Promise<void> {
  if (body.trigger === 'manual' || body.status !== 'completed') return
  const done = await completedRunOf(db, model, body.trigger)
  if (done)
    throw new EdgefleetError(
      'conflict',
      `event ${body.trigger} already produced run ${done.id}${done.version === null ? '' : ` (v${done.version})`}`,
      { pointer: '/trigger' },
    )
}
