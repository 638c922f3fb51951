/** The `ModelControl` of a model (one Durable Object per model, named by it). */
export function modelControl(env: Env, model: string): DurableObjectStub<import('./model-control.ts').ModelControl> {
  return env.MODEL_CONTROL.get(env.MODEL_CONTROL.idFromName(model))
}
