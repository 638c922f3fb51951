import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import * as z from 'zod'
import type { AppEnv } from '../env.ts'
import { json } from './openapi.ts'

/** `GET /healthz`: liveness, no auth. */
export const health = new OpenAPIHono<AppEnv>()

health.openapi(
  createRoute({
    method: 'get',
    path: '/healthz',
    summary: 'Liveness',
    tags: ['health'],
    responses: {
      200: json(z.object({ ok: z.literal(true), service: z.literal('edgefleet'), environment: z.string() }), 'Alive'),
    },
  }),
  (c) => c.json({ ok: true as const, service: 'edgefleet' as const, environment: c.env.ENVIRONMENT }, 200),
)
