/**
 * @module `/v1/models/:model/slo`: a model's service-level objectives (admin), read back without the
 * webhook secret, their status (burn rates of the alerting windows, state, error budget left), and an
 * evaluation on demand. Stored and judged by the model's ModelControl (docs/slo.md).
 */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import { EdgefleetError } from '../../core/errors.ts'
import { SloConfig, SloStatus, SloView } from '../../core/formats/slo.ts'
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

/** The SLO routes. */
export const slo = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

slo.openapi(
  createRoute({
    method: 'put',
    path: '/v1/models/{model}/slo',
    summary: 'Set the service-level objectives of a model',
    description:
      'Replaces the SLOs: objectives on `latency` or `load_time` (`percentile` 95 or 99 under `thresholdMs`), `error_rate` or `fallback_rate` (`target`), a compliance `period` (`28d`, 1 to 90 days). They are judged at once and then every minute on multi-window burn rates; a state change records `slo.breached` or `slo.recovered` and POSTs it to `webhook.url`, signed with `webhook.secret` (see docs/slo.md).',
    tags: ['telemetry'],
    security: bearer,
    middleware: [requireScope('admin')] as const,
    request: { params: modelParam, body: jsonBody(SloConfig) },
    responses: { 200: json(SloView, 'The stored SLOs (secret redacted)'), ...errors, ...notFound },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    const body = c.req.valid('json')
    requireHttpsInProduction(c.env, body.webhook)
    await requireModel(c.env.DB, model)
    return c.json(await modelControl(c.env, model).setSlo(model, body, c.get('principal').name), 200)
  },
)

slo.openapi(
  createRoute({
    method: 'get',
    path: '/v1/models/{model}/slo',
    summary: 'The service-level objectives of a model (secret redacted)',
    tags: ['telemetry'],
    security: bearer,
    middleware: [requireScope('telemetry:read')] as const,
    request: { params: modelParam },
    responses: { 200: json(SloView, 'The SLOs'), ...errors, ...notFound },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    await requireModel(c.env.DB, model)
    const view = await modelControl(c.env, model).getSlo()
    if (!view) throw new EdgefleetError('not_found', `model "${model}" has no SLOs`)
    return c.json(view, 200)
  },
)

slo.openapi(
  createRoute({
    method: 'get',
    path: '/v1/models/{model}/slo/status',
    summary: 'The last evaluation of the SLOs: burn rates, states, error budget left',
    description:
      'Per objective: the burn rate of each alerting window (5m, 30m, 1h, 6h), the state (`ok`, `breached-fast`, `breached-slow`) and the error budget left over the compliance period, as of the last evaluation (every minute).',
    tags: ['telemetry'],
    security: bearer,
    middleware: [requireScope('telemetry:read')] as const,
    request: { params: modelParam },
    responses: { 200: json(SloStatus, 'The status'), ...errors, ...notFound },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    await requireModel(c.env.DB, model)
    const status = await modelControl(c.env, model).getSloStatus()
    if (!status) throw new EdgefleetError('not_found', `model "${model}" has no evaluated SLOs`)
    return c.json(status, 200)
  },
)

/** The body of an evaluation request. */
const EvaluateRequest = evaluateNowRequest('count the minute still open as if complete')

slo.openapi(
  createRoute({
    method: 'post',
    path: '/v1/models/{model}/slo/evaluate',
    summary: 'Evaluate the SLOs now',
    description:
      'Judges every objective now, as the minute evaluation does; a state change records `slo.breached` or `slo.recovered` (naming who asked) and queues its webhook. Answers the new status. `closeOpenWindow` ends the windows at the next minute boundary, counting the minute still open: a local-development aid, refused unless ENVIRONMENT is `development`.',
    tags: ['telemetry'],
    security: bearer,
    middleware: [requireScope('admin')] as const,
    request: { params: modelParam, body: { ...jsonBody(EvaluateRequest), required: false } },
    responses: { 200: json(SloStatus, 'The new status'), ...errors, ...notFound },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    const { closeOpenWindow } = c.req.valid('json') ?? { closeOpenWindow: false }
    allowCloseOpenWindow(c.env, closeOpenWindow)
    await requireModel(c.env.DB, model)
    const status = unwrap(await modelControl(c.env, model).evaluateSloNow(c.get('principal').name, closeOpenWindow))
    if (!status) throw new EdgefleetError('not_found', `model "${model}" has no SLOs`)
    return c.json(status, 200)
  },
)
