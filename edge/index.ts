import { createApp } from './app.ts'

const app = createApp()

/** The edgefleet Worker: registry, assignment, telemetry and rollouts under /v1. */
export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>
