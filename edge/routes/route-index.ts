import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import * as z from 'zod'
import type { AppEnv } from '../env.ts'
import { json } from './openapi.ts'

const RouteIndex = z.object({
  service: z.literal('edgefleet'),
  openapi: z.string(),
  reference: z.string(),
  routes: z.array(z.object({ method: z.string(), path: z.string(), summary: z.string().optional() })),
})

/**
 * `GET /v1`: the routes of the API as JSON (method, path, summary), read from the OpenAPI registry
 * once every route is registered, with where the full description and its reference page are.
 */
export function addRouteIndex(app: OpenAPIHono<AppEnv>): void {
  const listed = () =>
    app.openAPIRegistry.definitions.flatMap((d) =>
      d.type === 'route'
        ? [{ method: d.route.method.toUpperCase(), path: d.route.path, summary: d.route.summary }]
        : [],
    )
  let routes: ReturnType<typeof listed> | undefined
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1',
      summary: 'Route index',
      description: 'Every route (method, path, summary), and where the OpenAPI description and its reference page are.',
      tags: ['health'],
      responses: { 200: json(RouteIndex, 'The route index') },
    }),
    (c) =>
      c.json(
        {
          service: 'edgefleet' as const,
          openapi: '/openapi.json',
          reference: '/api/',
          routes: (routes ??= listed().sort(
            (a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method),
          )),
        },
        200,
      ),
  )
}
