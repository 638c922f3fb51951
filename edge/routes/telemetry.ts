import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import * as z from 'zod'
import { EdgefleetError } from '../../core/errors.ts'
import { ErrorBody } from '../../core/formats/error.ts'
import { FleetView, Granularity, TelemetryRefusals } from '../../core/formats/fleet.ts'
import { SliceDimension } from '../../core/formats/slices.ts'
import { Batch } from '../../core/formats/telemetry.ts'
import { requireScope } from '../auth/middleware.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../http/errors.ts'
import { decimalInt } from '../http/params.ts'
import { bucketMs, fleetView } from '../telemetry/fleet.ts'
import { acceptBatch } from '../telemetry/ingest.ts'
import { readRefusals } from '../telemetry/refusals.ts'
import { fleetSlices } from '../telemetry/slice-view.ts'
import { modelParam } from './models.ts'
import { bearer, deviceKey, errors, json, notFound } from './openapi.ts'
import { requireModel } from './require-model.ts'

const Accepted = z.object({
  accepted: z.number().int().nonnegative().describe('Reports newly stored by this request'),
  duplicate: z.boolean().describe('True when some part of this batch had been stored before (a retry)'),
})

const IngestQuery = z.object({
  key: z.string().optional().describe('The app key, where a header cannot be set (sendBeacon)'),
  encoding: z
    .string()
    .optional()
    .describe('`gzip` when the body is gzip-compressed and Content-Encoding cannot be set'),
})

// The body is read, inflated and validated by the handler (it may be gzip), so the schema is
// documented by reference instead of being bound to a validator.
const batchRef = { $ref: '#/components/schemas/TelemetryBatch' }

/** A range as far back as a granularity allows in one read (1440 minutes, 31 days of hours). */
const MAX_RANGE_MS = { minute: 24 * 3_600_000, hour: 31 * 24 * 3_600_000 } as const

const FleetQuery = z.object({
  from: decimalInt().optional().describe('Start (ms since epoch, inclusive); default: `to` − 24 h'),
  to: decimalInt().optional().describe('End (ms since epoch, exclusive); default: now'),
  version: decimalInt({ min: 1 }).optional(),
  granularity: Granularity.default('hour'),
  slice: SliceDimension.optional().describe(
    'Group every cohort by this slice key (`backend`, `platform`, `browser`, `memory`, `cohort`) and name the largest gap',
  ),
})

const error = (description: string) => json(ErrorBody, description)

/** `POST /v1/telemetry` (devices) and `GET /v1/models/:model/telemetry` (the fleet view). */
export const telemetry = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
telemetry.openAPIRegistry.register('TelemetryBatch', Batch)

telemetry.openapi(
  createRoute({
    method: 'post',
    path: '/v1/telemetry',
    summary: 'Send a batch of telemetry/1 reports; 202 once every part is durable',
    description:
      'Body: a `telemetry/1` batch as `application/json` or `text/plain` (sendBeacon), optionally gzip (`Content-Encoding: gzip` or `?encoding=gzip`); at most 64 KB on the wire and 512 KB inflated. Idempotent on `(batchId, model)`. `too_old` and `too_new` are final: drop the batch.',
    tags: ['devices'],
    security: deviceKey,
    middleware: [requireScope('device')] as const,
    request: {
      query: IngestQuery,
      body: {
        content: { 'application/json': { schema: batchRef }, 'text/plain': { schema: batchRef } },
        required: true,
      },
    },
    responses: {
      202: json(Accepted, 'Stored durably (or already stored)'),
      ...errors,
      400: error(
        '`validation_failed` (with a pointer such as `/reports/0/window`), `invalid_json`, `bad_request`, or the final `too_old` / `too_new`',
      ),
      413: error('`too_large`: over 64 KB on the wire or 512 KB inflated'),
      415: error('`unsupported_media_type`: not JSON or text/plain, or an encoding other than gzip'),
      429: error('`rate_limited`: per app key or per device; see Retry-After'),
      503: error('`network_error`: storage unavailable; retry after Retry-After'),
    },
  }),
  async (c) => c.json(await acceptBatch(c), 202),
)

telemetry.openapi(
  createRoute({
    method: 'get',
    path: '/v1/models/{model}/telemetry',
    summary: 'The fleet view: per version × role × rollout arm, totals and a series merged over every shard',
    description:
      'Cohorts and points seen on fewer than `minDevices` distinct devices are suppressed. Ranges: at most 24 h by minute, 31 days by hour. With `slice`, each cohort is also grouped by that slice key (slices under `minDevices` devices suppressed) and `sliceGap` names the largest gap between slices.',
    tags: ['telemetry'],
    security: bearer,
    middleware: [requireScope('telemetry:read')] as const,
    request: { params: modelParam, query: FleetQuery },
    responses: { 200: json(FleetView, 'The fleet view'), ...errors, ...notFound },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    const q = c.req.valid('query')
    const step = bucketMs(q.granularity)
    const now = Date.now()
    // Align outward to whole buckets, so every point is complete.
    const to = Math.ceil((q.to ?? now) / step) * step
    const from = Math.floor((q.from ?? to - 24 * 3_600_000) / step) * step
    if (from >= to) throw new EdgefleetError('validation_failed', 'from must be before to')
    if (to - from > MAX_RANGE_MS[q.granularity])
      throw new EdgefleetError(
        'validation_failed',
        `a ${q.granularity} read spans at most ${MAX_RANGE_MS[q.granularity] / 3_600_000} hours`,
      )
    await requireModel(c.env.DB, model)
    const view = await fleetView(c.env, model, { from, to, version: q.version, granularity: q.granularity }, now)
    if (q.slice === undefined) return c.json(view, 200)
    const sliced = await fleetSlices(c.env, model, { from, to, version: q.version, dimension: q.slice })
    return c.json({ ...view, ...sliced }, 200)
  },
)

const RefusalsQuery = z.object({
  from: decimalInt().optional().describe('Start (ms since epoch, inclusive); default: `to` − 24 h'),
  to: decimalInt().optional().describe('End (ms since epoch, exclusive); default: now'),
})

telemetry.openapi(
  createRoute({
    method: 'get',
    path: '/v1/telemetry/refusals',
    summary: 'Telemetry the edge refused, per model and reason (every app key; at most 31 days)',
    description:
      'Reasons are error codes (`too_old`, `invalid_json`, `rate_limited_client`, …) or the telemetry/1 bound a report broke (`inferences_over_window`, `errors_over_attempts`, `sketch_inconsistent`, …); `model` is null when the batch named no model that exists.',
    tags: ['telemetry'],
    security: bearer,
    middleware: [requireScope('telemetry:read')] as const,
    request: { query: RefusalsQuery },
    responses: { 200: json(TelemetryRefusals, 'Refusal counts'), ...errors },
  }),
  async (c) => {
    const q = c.req.valid('query')
    const step = 60_000
    const to = Math.ceil((q.to ?? Date.now()) / step) * step
    const from = Math.floor((q.from ?? to - 24 * 3_600_000) / step) * step
    if (from >= to) throw new EdgefleetError('validation_failed', 'from must be before to')
    if (to - from > MAX_RANGE_MS.hour) throw new EdgefleetError('validation_failed', 'a read spans at most 31 days')
    const rows = await readRefusals(c.env, { from, to })
    return c.json(
      {
        from,
        to,
        refusals: rows.map((r) => ({ model: r.model === '' ? null : r.model, reason: r.reason, count: r.count })),
      },
      200,
    )
  },
)
