import { Hono } from 'hono'

/** The edgefleet Worker: registry, assignment, telemetry and rollouts under /v1. */
const app = new Hono<{ Bindings: Env }>()

app.get('/healthz', (c) => c.json({ ok: true, service: 'edgefleet', environment: c.env.ENVIRONMENT }))

export default app satisfies ExportedHandler<Env>
