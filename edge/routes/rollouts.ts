import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import * as z from 'zod'
import { EdgefleetError } from '../../core/errors.ts'
import { RolloutId } from '../../core/formats/common.ts'
import { RolloutActionBody, RolloutConfig, RolloutView } from '../../core/formats/rollout.ts'
import type { RolloutTransitionAction } from '../../core/rollout/machine.ts'
import { rolloutCache } from '../assign/rollout-cache.ts'
import { requireScope } from '../auth/middleware.ts'
import { unwrap } from '../control/rpc-result.ts'
import { modelControl } from '../control/stub.ts'
import { getAlias } from '../db/aliases.ts'
import { getCohorts, pinnedAmong } from '../db/cohorts.ts'
import { interfaceChanges } from '../../core/registry/interface.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../http/errors.ts'
import { modelParam } from './models.ts'
import { bearer, conflict, errors, json, jsonBody, notFound } from './openapi.ts'
import { requireModel } from './require-model.ts'
import { requireVersion } from './versions.ts'

/**
 * Cohorts a rollout targets must be in the model's allow-list (`validation_failed` at the first one
 * that is not) and unpinned (`conflict`: a pinned cohort takes part in no rollout, so the rollout
 * would never reach it).
 */
async function checkCohorts(db: D1Database, model: string, targeted: readonly string[] | undefined): Promise<void> {
  if (targeted === undefined) return
  const allowed = new Set((await getCohorts(db, model))?.values ?? [])
  const unknown = targeted.findIndex((label) => !allowed.has(label))
  if (unknown >= 0)
    throw new EdgefleetError(
      'validation_failed',
      `cohort "${targeted[unknown]}" is not in the allow-list of model "${model}" (PUT /v1/models/${model}/cohorts)`,
      { pointer: `/targeting/cohorts/${unknown}` },
    )
  const pinned = await pinnedAmong(db, model, targeted)
  if (pinned.length > 0)
    throw new EdgefleetError(
      'conflict',
      `cohort "${pinned[0].cohort}" is pinned to version ${pinned[0].version}; unpin it before rolling out to it`,
      { pointer: `/targeting/cohorts/${targeted.indexOf(pinned[0].cohort)}` },
    )
}

/** `/v1/models/:model/rollouts`: start, read and steer staged rollouts (docs/rollouts.md). */
export const rollouts = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

rollouts.openapi(
  createRoute({
    method: 'post',
    path: '/v1/models/{model}/rollouts',
    summary: 'Start a rollout of a candidate version',
    description:
      "`mode`: `canary` (the candidate replaces the baseline for each step's share of devices), `ab` (one fixed split, decided by hand), `shadow` (the share also runs the candidate in the background; its answers are only compared). `baseline` defaults to the `production` alias. One active rollout per model (409 otherwise). `targeting.cohorts` names labels of the model's cohort allow-list that are not pinned; promoting such a rollout pins those cohorts to the candidate instead of moving `production`.",
    tags: ['rollouts'],
    security: bearer,
    middleware: [requireScope('rollout:write')] as const,
    request: { params: modelParam, body: jsonBody(RolloutConfig) },
    responses: {
      201: json(RolloutView, 'The rollout, running at its first step'),
      ...errors,
      ...notFound,
      ...conflict,
    },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    const config = c.req.valid('json')
    await requireModel(c.env.DB, model)
    await checkCohorts(c.env.DB, model, config.targeting?.cohorts)
    const baseline = config.baseline ?? (await getAlias(c.env.DB, model, 'production'))
    if (baseline === null)
      throw new EdgefleetError(
        'conflict',
        `model "${model}" has no production version to roll out against: set one or pass "baseline"`,
        { pointer: '/baseline' },
      )
    if (baseline === config.candidate)
      throw new EdgefleetError('validation_failed', `candidate and baseline are both version ${baseline}`, {
        pointer: '/candidate',
      })
    const versions = []
    for (const [field, version] of [
      ['candidate', config.candidate],
      ['baseline', baseline],
    ] as const) {
      const v = await requireVersion(c.env.DB, model, version)
      if (v.deprecatedAt !== null)
        throw new EdgefleetError('deprecated', `version ${version} is deprecated`, { pointer: `/${field}` })
      versions.push(v)
    }
    // Devices in both arms run the same app code: the candidate must take what the baseline takes.
    const [candidateVersion, baselineVersion] = versions
    const changes = interfaceChanges(baselineVersion, candidateVersion)
    if (changes.length > 0)
      throw new EdgefleetError(
        'interface_mismatch',
        `v${config.candidate} cannot be rolled out against v${baseline}: ${changes.join('; ')}`,
        { pointer: '/candidate' },
      )
    const view = unwrap(
      await modelControl(c.env, model).startRollout(model, { ...config, baseline }, c.get('principal').name),
    ) as RolloutView
    rolloutCache(c.env).forget(model)
    return c.json(view, 201)
  },
)

const RolloutParams = modelParam.extend({ id: z.union([z.literal('current'), RolloutId]) })

rollouts.openapi(
  createRoute({
    method: 'get',
    path: '/v1/models/{model}/rollouts/{id}',
    summary: 'A rollout: state, step, per-arm statistics, last decision and timeline (`current`: the newest)',
    tags: ['rollouts'],
    security: bearer,
    middleware: [requireScope('registry:read')] as const,
    request: { params: RolloutParams },
    responses: { 200: json(RolloutView, 'The rollout'), ...errors, ...notFound },
  }),
  async (c) => {
    const { model, id } = c.req.valid('param')
    await requireModel(c.env.DB, model)
    const view = (await modelControl(c.env, model).getRollout(id)) as RolloutView | null
    if (!view)
      throw new EdgefleetError(
        'not_found',
        id === 'current' ? `model "${model}" has no rollout` : `rollout ${id} of model "${model}" does not exist`,
      )
    return c.json(view, 200)
  },
)

const ACTIONS: Record<RolloutTransitionAction, string> = {
  pause: 'Pause: the shares stay, no step is taken; guardrails still roll back on a breach',
  resume: "Resume a paused rollout; the step's clock restarts",
  advance: 'Go to the next step now',
  rollback: 'Kill switch: candidate share 0 at once (edges within 5 s, devices within 5 s + ttlSeconds)',
  promote: 'Finish: the candidate becomes `production`',
}

for (const [action, summary] of Object.entries(ACTIONS) as [RolloutTransitionAction, string][]) {
  rollouts.openapi(
    createRoute({
      method: 'post',
      path: `/v1/models/{model}/rollouts/{id}/${action}`,
      summary,
      tags: ['rollouts'],
      security: bearer,
      middleware: [requireScope('rollout:write')] as const,
      request: {
        params: modelParam.extend({ id: RolloutId }),
        body: { content: { 'application/json': { schema: RolloutActionBody } }, required: false },
      },
      responses: { 200: json(RolloutView, 'The rollout after the action'), ...errors, ...notFound, ...conflict },
    }),
    async (c) => {
      const { model, id } = c.req.valid('param')
      const body = c.req.valid('json') ?? {}
      await requireModel(c.env.DB, model)
      const view = unwrap(
        await modelControl(c.env, model).actOnRollout(id, action, c.get('principal').name, body),
      ) as RolloutView
      rolloutCache(c.env).forget(model)
      return c.json(view, 200)
    },
  )
}
