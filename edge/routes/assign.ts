import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import * as z from 'zod'
import { decodeCaps } from '../../core/caps.ts'
import { Assignment } from '../../core/formats/assignment.ts'
import { toHex } from '../../core/hex.ts'
import { assignVersion } from '../assign/assignment.ts'
import { registryCache } from '../assign/registry-cache.ts'
import { rolloutCache } from '../assign/rollout-cache.ts'
import { requireScope } from '../auth/middleware.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../http/errors.ts'
import { modelParam } from './models.ts'
import { deviceKey, errors, json, notFound } from './openapi.ts'

const AssignQuery = z.object({
  device: z.string().regex(/^[A-Za-z0-9_-]{8,128}$/, 'a pseudonymous device id of 8 to 128 [A-Za-z0-9_-]'),
  caps: z.string().max(256).optional(),
})

/** Each assignment's JSON and ETag: assignments are shared by every device of an arm (assignment.ts). */
const answers = new WeakMap<object, { body: string; etag: string }>()

async function etagOf(body: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body))
  return `"${toHex(new Uint8Array(digest).slice(0, 16))}"`
}

/** `GET /v1/assign/:model`: which version this device runs, with an ETag so unchanged answers cost a 304. */
export const assign = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

assign.openapi(
  createRoute({
    method: 'get',
    path: '/v1/assign/{model}',
    summary: 'The version (and any shadow) a device runs',
    tags: ['devices'],
    security: deviceKey,
    middleware: [requireScope('device')] as const,
    request: { params: modelParam, query: AssignQuery },
    responses: {
      200: json(Assignment, 'The assignment'),
      304: { description: 'Unchanged (If-None-Match)' },
      ...errors,
      ...notFound,
    },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    const { device, caps } = c.req.valid('query')
    const cache = rolloutCache(c.env)
    const assignment = await assignVersion(c.env.DB, {
      model,
      deviceId: device,
      caps: decodeCaps(caps),
      origin: new URL(c.req.url).origin,
      rolloutOf: (m) => cache.get(m),
      registry: registryCache(c.env),
    })
    let answer = answers.get(assignment)
    if (answer === undefined) {
      const body = JSON.stringify(assignment)
      answer = { body, etag: await etagOf(body) }
      answers.set(assignment, answer)
    }
    const { body, etag } = answer
    const headers = { ETag: etag, 'Cache-Control': 'no-cache', Vary: 'Origin' }
    if (
      c.req
        .header('If-None-Match')
        ?.split(',')
        .some((t) => t.trim() === etag)
    )
      return c.body(null, 304, headers)
    return c.body(body, 200, { ...headers, 'Content-Type': 'application/json' })
  },
)
