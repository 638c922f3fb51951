import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import * as z from 'zod'
import { decodeCaps } from '../../core/caps.ts'
import { Assignment } from '../../core/formats/assignment.ts'
import { MODEL_NAME_PATTERN } from '../../core/formats/common.ts'
import { toHex } from '../../core/hex.ts'
import { decodeExclusions, EXCLUDE_PATTERN } from '../../core/variants/exclusions.ts'
import { assignWithCohort } from '../assign/assignment.ts'
import { registryCache } from '../assign/registry-cache.ts'
import { rolloutCache } from '../assign/rollout-cache.ts'
import { requireScope } from '../auth/middleware.ts'
import type { AppEnv } from '../env.ts'
import { validationError, validationHook } from '../http/errors.ts'
import { modelParam } from './models.ts'
import { deviceKey, errors, json, notFound } from './openapi.ts'

const DEVICE_ID = /^[A-Za-z0-9_-]{8,128}$/
const MAX_CAPS = 256

export const AssignQuery = z.object({
  device: z.string().regex(DEVICE_ID, 'a pseudonymous device id of 8 to 128 [A-Za-z0-9_-]'),
  caps: z.string().max(MAX_CAPS).optional(),
  cohort: z
    .string()
    .optional()
    .describe(
      'the app\'s cohort label (docs/rollouts.md, "Cohorts"); a label outside the model\'s allow-list is ignored, never an error',
    ),
  exclude: z
    .string()
    .regex(EXCLUDE_PATTERN, 'up to 16 comma-separated <version>:<variant> pairs, e.g. 3:fp16')
    .optional()
    .describe('variants this device found broken (docs/variants.md): never picked again for that version'),
})

type AssignQuery = z.infer<typeof AssignQuery>

/**
 * The query and model of an assign request, checked as the route's schemas would check them. This is
 * the busiest route of the edge, so the common case (every parameter present at most once, each valid)
 * is checked by hand on Hono's own parsing of the query; anything else goes through the schemas, whose
 * first issue is the error (the same 400 the OpenAPI validators give every other route).
 */
export function assignInput(queries: Record<string, string[]>, model: string): { query: AssignQuery; model: string } {
  const one = (key: string): string | undefined | null => {
    const values = queries[key]
    return values === undefined ? undefined : values.length === 1 ? values[0]! : null
  }
  const device = one('device')
  const caps = one('caps')
  const cohort = one('cohort')
  const exclude = one('exclude')
  if (
    typeof device === 'string' &&
    DEVICE_ID.test(device) &&
    caps !== null &&
    (caps === undefined || caps.length <= MAX_CAPS) &&
    cohort !== null &&
    exclude !== null &&
    (exclude === undefined || EXCLUDE_PATTERN.test(exclude)) &&
    MODEL_NAME_PATTERN.test(model)
  ) {
    const query: AssignQuery = { device }
    if (caps !== undefined) query.caps = caps
    if (cohort !== undefined) query.cohort = cohort
    if (exclude !== undefined) query.exclude = exclude
    return { query, model }
  }
  // As Hono's validator sees the query: a parameter given once is a string, given more often a list.
  const raw = Object.fromEntries(Object.entries(queries).map(([k, v]) => [k, v.length === 1 ? v[0] : v]))
  const query = AssignQuery.safeParse(raw)
  if (!query.success) throw validationError(query.error, 'query')
  const param = modelParam.safeParse({ model })
  if (!param.success) throw validationError(param.error, 'param')
  return { query: query.data, model: param.data.model }
}

const origins = new Map<string, string>()

/** The origin of a request URL, parsed once per scheme, host and port this isolate has seen. */
function originOf(url: string): string {
  const prefix = url.slice(0, url.indexOf('/', url.indexOf('//') + 2))
  let origin = origins.get(prefix)
  if (origin === undefined) {
    if (origins.size >= 64) origins.clear()
    origins.set(prefix, (origin = new URL(url).origin))
  }
  return origin
}

/**
 * Each assignment's JSON and ETag: assignments are shared by every device of an arm (assignment.ts).
 * The ETag of a device in a cohort also covers its cohort, so a device whose cohort changes never
 * keeps an answer given for another.
 */
const answers = new WeakMap<object, { body: string; etag: string; byCohort: Map<string, string> }>()

async function etagOf(body: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body))
  return `"${toHex(new Uint8Array(digest).slice(0, 16))}"`
}

/** `GET /v1/assign/:model`: which version this device runs, with an ETag so unchanged answers cost a 304. */
export const assign = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

const route = createRoute({
  method: 'get',
  path: '/v1/assign/{model}',
  summary: 'The version (and any shadow) a device runs',
  tags: ['devices'],
  security: deviceKey,
  request: { params: modelParam, query: AssignQuery },
  responses: {
    200: json(Assignment, 'The assignment'),
    304: { description: 'Unchanged (If-None-Match)' },
    ...errors,
    ...notFound,
  },
})

// Documented in the OpenAPI document like every route; validated by `assignInput`.
assign.openAPIRegistry.registerPath(route)

assign.get('/v1/assign/:model', requireScope('device'), async (c) => {
  const url = c.req.url
  const { query, model } = assignInput(c.req.queries(), c.req.param('model'))
  const { device, caps, cohort: sent, exclude } = query
  const cache = rolloutCache(c.env)
  const { assignment, cohort } = await assignWithCohort(c.env.DB, {
    model,
    deviceId: device,
    caps: decodeCaps(caps),
    origin: originOf(url),
    rolloutOf: (m) => cache.get(m),
    registry: registryCache(c.env),
    ...(sent !== undefined ? { cohort: sent } : {}),
    ...(exclude !== undefined ? { exclude: decodeExclusions(exclude) } : {}),
  })
  let answer = answers.get(assignment)
  if (answer === undefined) {
    const body = JSON.stringify(assignment)
    answer = { body, etag: await etagOf(body), byCohort: new Map() }
    answers.set(assignment, answer)
  }
  const { body } = answer
  let etag = answer.etag
  if (cohort !== null) {
    const known = answer.byCohort.get(cohort)
    etag = known ?? (await etagOf(`${cohort}\n${body}`))
    if (known === undefined) {
      if (answer.byCohort.size >= 256) answer.byCohort.delete(answer.byCohort.keys().next().value as string)
      answer.byCohort.set(cohort, etag)
    }
  }
  const headers = { ETag: etag, 'Cache-Control': 'no-cache', Vary: 'Origin' }
  if (
    c.req
      .header('If-None-Match')
      ?.split(',')
      .some((t) => t.trim() === etag)
  )
    return c.body(null, 304, headers)
  return c.body(body, 200, { ...headers, 'Content-Type': 'application/json' })
})
