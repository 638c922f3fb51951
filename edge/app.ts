import { OpenAPIHono } from '@hono/zod-openapi'
import type { AppEnv } from './env.ts'
import { jsonBodyLimit } from './http/body-limit.ts'
import { corsPolicy } from './http/cors.ts'
import { onError, onNotFound, validationHook } from './http/errors.ts'
import { addRouteIndex } from './routes/route-index.ts'
import { aliases } from './routes/aliases.ts'
import { artifactUploads } from './routes/artifact-uploads.ts'
import { artifacts } from './routes/artifacts.ts'
import { assign } from './routes/assign.ts'
import { cohorts } from './routes/cohorts.ts'
import { events } from './routes/events.ts'
import { health } from './routes/health.ts'
import { models } from './routes/models.ts'
import { policy } from './routes/policy.ts'
import { rollouts } from './routes/rollouts.ts'
import { runs } from './routes/runs.ts'
import { slo } from './routes/slo.ts'
import { telemetry } from './routes/telemetry.ts'
import { tokens } from './routes/tokens.ts'
import { versions } from './routes/versions.ts'

/** Largest JSON body accepted (a D1 row holds at most 2 MB; profiles and manifests stay well below). */
export const MAX_JSON_BYTES = 1024 * 1024

/** Builds the edge's HTTP app: every route, one error handler, one CORS policy, OpenAPI at /openapi.json. */
export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  app.onError(onError)
  app.notFound(onNotFound)
  app.use('*', corsPolicy())
  const jsonLimit = jsonBodyLimit(MAX_JSON_BYTES)
  app.use('/v1/*', async function limitJsonBodies(c, next) {
    if (c.req.method === 'PUT' && c.req.path.startsWith('/v1/artifacts/')) return next()
    return jsonLimit(c, next)
  })

  for (const routes of [
    health,
    models,
    versions,
    aliases,
    artifacts,
    artifactUploads,
    assign,
    telemetry,
    policy,
    slo,
    cohorts,
    rollouts,
    runs,
    events,
    tokens,
  ])
    app.route('/', routes)

  addRouteIndex(app)

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API token (scopes registry:read, registry:write, rollout:write, telemetry:read, admin)',
  })
  app.openAPIRegistry.registerComponent('securitySchemes', 'appKey', {
    type: 'apiKey',
    in: 'header',
    name: 'X-Edgefleet-Key',
    description: 'An app key (scope device); also accepted as ?key=',
  })
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'edgefleet edge API',
      version: '1',
      description: 'Model registry, assignment, telemetry and rollouts for on-device models.',
    },
  })
  return app
}
