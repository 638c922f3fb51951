import type { RetrainPolicyInput } from '../core/formats/policy.ts'
import type { RolloutConfig } from '../core/formats/rollout.ts'

/** What the simulator needs to know about a rollout as the edge reports it. */
export interface RolloutState {
  id: string
  status: string
  step: number
}

/** Admin calls to a running edge over its public `/v1` API. */
export class EdgeAdmin {
  constructor(
    readonly url: string,
    private readonly token: string,
  ) {}

  /** One JSON call; throws with the edge's error body on anything but 2xx. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
    return (text ? JSON.parse(text) : null) as T
  }

  /** The model's detail: versions newest first, aliases, current rollout. */
  model(name: string): Promise<{ aliases: Record<string, number>; versions: { version: number }[] }> {
    return this.call('GET', `/v1/models/${name}`)
  }

  /** The active rollout of a model, or null. */
  async currentRollout(model: string): Promise<RolloutState | null> {
    const res = await fetch(`${this.url}/v1/models/${model}/rollouts/current`, {
      headers: { Authorization: `Bearer ${this.token}` },
    })
    if (res.status === 404) return null
    if (!res.ok) throw new Error(`GET rollouts/current: ${res.status} ${await res.text()}`)
    return (await res.json()) as RolloutState
  }

  /** Starts a rollout (the edge checks the config). */
  startRollout(model: string, config: RolloutConfig): Promise<RolloutState> {
    return this.call('POST', `/v1/models/${model}/rollouts`, config)
  }

  /** Reads one rollout by id. */
  rollout(model: string, id: string): Promise<RolloutState> {
    return this.call('GET', `/v1/models/${model}/rollouts/${id}`)
  }

  /** Rolls back a rollout (ending what a previous simulation left active). */
  rollback(model: string, id: string, reason: string): Promise<RolloutState> {
    return this.call('POST', `/v1/models/${model}/rollouts/${id}/rollback`, { reason })
  }

  /** Replaces the model's retraining policy. */
  setPolicy(model: string, policy: RetrainPolicyInput): Promise<unknown> {
    return this.call('PUT', `/v1/models/${model}/policy`, policy)
  }

  /** A new app key (scope `device`) for the simulated devices. */
  async createAppKey(name: string): Promise<string> {
    return (await this.call<{ token: string }>('POST', '/v1/tokens', { name, scopes: ['device'] })).token
  }
}
