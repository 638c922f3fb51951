import type { ModelControl } from './model-control.ts'

/** The `ModelControl` of a model (one Durable Object per model, named by it). */
export function modelControl(env: Env, model: string): DurableObjectStub<ModelControl> {
  return env.MODEL_CONTROL.get(env.MODEL_CONTROL.idFromName(model))
}
