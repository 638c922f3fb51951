import { createApp } from './app.ts'
import type { RetrainMessage } from './control/outbox.ts'
import { deliverRetrainBatch } from './webhook/deliver.ts'

export { ModelControl } from './control/model-control.ts'
export { TelemetryShard } from './telemetry/shard.ts'

const app = createApp()

/** The edgefleet Worker: registry, assignment, telemetry and rollouts under /v1; retraining webhooks from the Queue. */
export default {
  fetch: app.fetch,
  queue: (batch, env) => deliverRetrainBatch(batch, env),
} satisfies ExportedHandler<Env, RetrainMessage>
