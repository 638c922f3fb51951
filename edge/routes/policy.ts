import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import { EdgefleetError } from '../../core/errors.ts'
import { PolicyView, RetrainPolicy } from '../../core/formats/policy.ts'
import { requireScope } from '../auth/middleware.ts'
import { unwrap } from '../control/rpc-result.ts'
import { modelControl } from '../control/stub.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../http/errors.ts'
import { requireHttpsInProduction } from '../webhook/production-url.ts'
import { allowCloseOpenWindow, evaluateNowRequest } from './evaluate-now.ts'
import { modelParam } from './models.ts'
import { bearer, errors, json, jsonBody, notFound } from './openapi.ts'
import { requireModel } from './require-model.ts'

/** `/v1/models/:model/policy`: the retraining policy (admin), read back without its secret. */
export const policy = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

policy.openapi(
  createRoute({
    method: 'put',
    path: '/v1/models/{model}/policy',
    summary: 'Set the retraining policy of a model',
    description:
      'Replaces the policy. `when` is one condition (`anyFeatureDrifted`, `anyOutputDrifted`, `accuracyBelow`, `errorRateAbove`, `qualityRateAbove`, `estimatedAccuracyBelow`) or `any`/`all` of up to 8. A firing records `retrain.requested` and POSTs it to `webhook.url` signed with `webhook.secret` (see docs/telemetry.md).',
    tags: ['telemetry'],
    security: bearer,
    middleware: [requireScope('admin')] as const,
    request: { params: modelParam, body: jsonBody(RetrainPolicy) },
    responses: { 200: json(PolicyView, 'The stored policy (secret redacted) and its state'), ...errors, ...notFound },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    const body = c.req.valid('json')
    requireHttpsInProduction(c.env, body.webhook)
    await requireModel(c.env.DB, model)
    return c.json(await modelControl(c.env, model).setPolicy(model, body, c.get('principal').name), 200)
  },
)

policy.openapi(
  createRoute({
    method: 'get',
    path: '/v1/models/{model}/policy',
    summary: 'The retraining policy of a model, its last evaluation and next one (secret redacted)',
    tags: ['telemetry'],
    security: bearer,
    middleware: [requireScope('telemetry:read')] as const,
    request: { params: modelParam },
    responses: { 200: json(PolicyView, 'The policy'), ...errors, ...notFound },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    await requireModel(c.env.DB, model)
    const view = await modelControl(c.env, model).getPolicy()
    if (!view) throw new EdgefleetError('not_found', `model "${model}" has no retraining policy`)
    return c.json(view, 200)
  },
)

/** The body of an evaluation request. */
const EvaluateRequest = evaluateNowRequest('judge the window still open as if it had just closed')

policy.openapi(
  createRoute({
    method: 'post',
    path: '/v1/models/{model}/policy/evaluate',
    summary: 'Evaluate the retraining policy now',
    description:
      'Judges the policy on its closed windows now, as the edge does when a window closes, and fires `retrain.requested` when it holds outside the cooldown (the event names who asked). `closeOpenWindow` judges the window still open as if it had closed: a local-development aid, refused unless ENVIRONMENT is `development`.',
    tags: ['telemetry'],
    security: bearer,
    middleware: [requireScope('admin')] as const,
    request: { params: modelParam, body: { ...jsonBody(EvaluateRequest), required: false } },
    responses: {
      200: json(PolicyView, 'The policy with its new state (`lastResult`, `lastEventId` when it fired)'),
      ...errors,
      ...notFound,
    },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    const { closeOpenWindow } = c.req.valid('json') ?? { closeOpenWindow: false }
    allowCloseOpenWindow(c.env, closeOpenWindow)
    await requireModel(c.env.DB, model)
    const view = unwrap(await modelControl(c.env, model).evaluatePolicyNow(c.get('principal').name, closeOpenWindow))
    if (!view) throw new EdgefleetError('not_found', `model "${model}" has no retraining policy`)
    return c.json(view, 200)
  },
)
