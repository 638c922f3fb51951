import { DurableObject } from 'cloudflare:workers'
import type { PolicyView, RetrainPolicy } from '../../core/formats/policy.ts'
import { inCooldown, nextEvaluationAt } from '../../core/telemetry/retrain.ts'
import { newEventId } from '../db/events.ts'
import { Schedule } from '../do/schedule.ts'
import { CONTROL_SCHEMA, getModelName, loadPolicy, loadState, policyView, savePolicy, saveState, setModelName } from './control-store.ts'
import { evaluatePolicy } from './evaluate.ts'
import { addEffect, drainOutbox, nextEffectAt } from './outbox.ts'

const EVALUATE = 'policy:evaluate'
const DRAIN = 'outbox:drain'
/** A failed evaluation (a shard or D1 unreachable) is retried after this long. */
const RETRY_MS = 60_000

/**
 * `ModelControl` (one per model, named by the model): owns the retraining policy and, later, the
 * rollout state machine. One alarm, pointed by the `schedule` table at the earliest job: the policy
 * is evaluated as each of its windows closes; a firing records, in the same SQLite transaction as
 * the decision, an outbox of effects (the `retrain.requested` event in D1, then a Queue message)
 * that are applied in order and retried until they succeed. A cooldown silences repeat firings.
 */
export class ModelControl extends DurableObject<Env> {
  /** The clock of evaluations; tests replace it (`runInDurableObject`) to close windows at will. */
  now: () => number = () => Date.now()
  private readonly sql: SqlStorage
  private readonly schedule: Schedule
  private draining: Promise<unknown> | null = null

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    for (const statement of CONTROL_SCHEMA) this.sql.exec(statement)
    this.schedule = new Schedule(this.sql, ctx.storage)
  }

  /** Replaces the model's retraining policy (audited as a `policy.updated` event) and schedules its evaluation. */
  async setPolicy(model: string, policy: RetrainPolicy, actor: string): Promise<PolicyView> {
    const now = this.now()
    this.ctx.storage.transactionSync(() => {
      setModelName(this.sql, model)
      const revision = savePolicy(this.sql, policy, now, actor)
      const { webhook, ...rest } = policy
      const details = { revision, ...rest, ...(webhook ? { webhook: { url: webhook.url } } : {}) }
      const id = newEventId()
      addEffect(this.sql, `event:${id}`, { kind: 'event', event: { id, type: 'policy.updated', model, actor, at: now, details } }, now)
      this.schedule.set(DRAIN, now)
      if (policy.enabled) this.schedule.set(EVALUATE, nextEvaluationAt(policy.when, now, policy.graceMinutes * 60_000))
      else this.schedule.clear(EVALUATE)
    })
    await this.drain(now)
    return (await this.getPolicy())!
  }

  /** The policy with its state, secret redacted; null when none was set. */
  async getPolicy(): Promise<PolicyView | null> {
    const stored = loadPolicy(this.sql)
    const model = getModelName(this.sql)
    if (!stored || model === null) return null
    return policyView(model, stored, loadState(this.sql), this.schedule.dueAt(EVALUATE))
  }

  /** Where and how to sign the retraining webhook (the Queue consumer's only way to the secret). */
  async webhookTarget(): Promise<{ url: string; secret: string } | null> {
    const webhook = loadPolicy(this.sql)?.policy.webhook
    return webhook && webhook.secret !== '' ? { url: webhook.url, secret: webhook.secret } : null
  }

  /** Runs the due jobs: evaluate the policy, drain the outbox; then re-arms. */
  override async alarm(): Promise<void> {
    const now = this.now()
    for (const job of this.schedule.due(now)) {
      try {
        if (job === EVALUATE) await this.evaluate(now)
        else if (job === DRAIN) await this.drain(now)
        else this.schedule.clear(job)
      } catch (e) {
        console.error(`ModelControl job ${job} failed`, e)
        this.schedule.set(job, now + RETRY_MS)
      }
    }
    await this.schedule.arm(this.now())
  }

  private async evaluate(now: number): Promise<void> {
    const stored = loadPolicy(this.sql)
    const model = getModelName(this.sql)
    if (!stored || model === null || !stored.policy.enabled) return this.schedule.clear(EVALUATE)
    const { policy, revision } = stored
    const evaluation = await evaluatePolicy(this.env, model, policy, now)
    let fired = false
    this.ctx.storage.transactionSync(() => {
      // Compare-and-set: a policy replaced while the fleet was being read is judged again, never fired.
      if (loadPolicy(this.sql)?.revision !== revision) return this.schedule.set(EVALUATE, now)
      const state = loadState(this.sql)
      const { met, reason } = evaluation.result
      state.lastEvaluatedAt = now
      state.lastResult = { met, reason }
      if (met && !inCooldown(state.lastFiredAt, policy.cooldownMinutes, now)) {
        const id = newEventId()
        const details = {
          reason,
          version: evaluation.version,
          policyRevision: revision,
          when: policy.when,
          cooldownMinutes: policy.cooldownMinutes,
          evaluatedAt: now,
          conditions: evaluation.result.conditions,
        }
        addEffect(this.sql, `event:${id}`, { kind: 'event', event: { id, type: 'retrain.requested', model, actor: 'policy', at: now, details } }, now)
        addEffect(this.sql, `queue:${id}`, { kind: 'queue', message: { eventId: id, model } }, now)
        this.schedule.set(DRAIN, now)
        state.lastFiredAt = now
        state.lastEventId = id
        fired = true
      }
      saveState(this.sql, state)
      this.schedule.set(EVALUATE, nextEvaluationAt(policy.when, now, policy.graceMinutes * 60_000))
    })
    if (fired) await this.drain(now)
  }

  /** Drains the outbox once at a time; what fails is rescheduled at its backoff. */
  private async drain(now: number): Promise<void> {
    while (this.draining) await this.draining
    const run = drainOutbox(this.sql, this.env, now)
    this.draining = run
    try {
      await run
    } finally {
      this.draining = null
    }
    const next = nextEffectAt(this.sql)
    if (next === null) this.schedule.clear(DRAIN)
    else this.schedule.set(DRAIN, Math.max(next, now))
    await this.schedule.arm(this.now())
  }
}
