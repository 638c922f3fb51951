import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import * as z from 'zod'
import { EventPage } from '../../core/formats/registry.ts'
import { requireScope } from '../auth/middleware.ts'
import { listEvents } from '../db/events.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../http/errors.ts'
import { decimalInt } from '../http/params.ts'
import { bearer, errors, json } from './openapi.ts'

const EventQuery = z.object({
  model: z
    .string()
    .regex(/^[a-z0-9-]{1,64}$/)
    .optional(),
  type: z
    .string()
    .regex(/^[a-z_]+(\.[a-z_]+)*(\.\*)?$/, 'an event type such as alias.moved, or a family such as rollout.*')
    .optional(),
  after: decimalInt().optional().describe('a cursor from a previous page (`next`)'),
  limit: decimalInt({ min: 1, max: 500 }).default(100),
})

/** `GET /v1/events`: the audit trail, oldest first, paged with an opaque cursor. */
export const events = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

events.openapi(
  createRoute({
    method: 'get',
    path: '/v1/events',
    summary: 'The audit trail: every state change with actor, time and details',
    tags: ['events'],
    security: bearer,
    middleware: [requireScope('telemetry:read', 'registry:read')] as const,
    request: { query: EventQuery },
    responses: { 200: json(EventPage, 'A page of events; pass `next` as `after` for the following page'), ...errors },
  }),
  async (c) => {
    const q = c.req.valid('query')
    return c.json(await listEvents(c.env.DB, { ...q, after: q.after }), 200)
  },
)
