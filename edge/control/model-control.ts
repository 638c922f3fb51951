import { DurableObject } from 'cloudflare:workers'
import { EdgefleetError } from '../../core/errors.ts'
import { toHex } from '../../core/hex.ts'
import type { PolicyView, RetrainPolicy } from '../../core/formats/policy.ts'
import type { SloConfig, SloStatus, SloView } from '../../core/formats/slo.ts'
import { stateOf, transitionEvent } from '../../core/slo/burn-rate.ts'
import type {
  RolloutActionBody,
  RolloutConfig,
  RolloutDecisionView,
  RolloutState,
  RolloutView,
} from '../../core/formats/rollout.ts'
import type { RolloutAssignView } from '../../core/rollout/assign.ts'
import { decide, type RolloutDecision } from '../../core/rollout/decide.ts'
import {
  isActive,
  nextState,
  NOTIFIED,
  TRANSITION_EVENT,
  type RolloutTransitionAction,
} from '../../core/rollout/machine.ts'
import { inCooldown, nextEvaluationAt } from '../../core/telemetry/retrain.ts'
import { newEventId } from '../db/events.ts'
import { deprecatedAmong, deprecateWithEvent } from '../db/versions.ts'
import { Schedule } from '../do/schedule.ts'
import {
  CONTROL_SCHEMA,
  getModelName,
  loadPolicy,
  loadState,
  policyView,
  savePolicy,
  saveState,
  setModelName,
} from './control-store.ts'
import { evaluatePolicy } from './evaluate.ts'
import { addEffect, drainOutbox, nextEffectAt } from './outbox.ts'
import { readArmStats } from './arm-stats.ts'
import { readSlo, SLO_LAG_MS } from './slo-evaluate.ts'
import {
  loadObjectiveStates,
  loadSlo,
  loadJudged,
  loadSloStatus,
  saveObjectiveState,
  saveSlo,
  saveJudged,
  saveSloStatus,
  SLO_SCHEMA,
  sloView,
} from './slo-store.ts'
import { capture, type RpcResult } from './rpc-result.ts'
import {
  activeRollout,
  addTransition,
  assignViewOf,
  casState,
  getRollout,
  insertRollout,
  latestRollout,
  percentOf,
  ROLLOUT_SCHEMA,
  rolloutView,
  saveDecision,
  transitionsOf,
  type StoredRollout,
} from './rollout-store.ts'

const EVALUATE = 'policy:evaluate'
const DRAIN = 'outbox:drain'
/** SLOs are judged once a minute, on the minute (core/slo, docs/slo.md). */
const SLO_EVALUATE = 'slo:evaluate'
const MINUTE = 60_000
/** Rollout evaluation jobs are named by the (rollout, step) they judge: `rollout:evaluate:<id>:<step>`. */
const ROLLOUT_EVALUATE = 'rollout:evaluate:'
/** A failed evaluation (a shard or D1 unreachable) is retried after this long. */
const RETRY_MS = 60_000

/** One rollout transition: who moves which rollout how, why, and on what evidence (null for a person's action). */
interface RolloutMove {
  model: string
  rollout: StoredRollout
  action: RolloutTransitionAction
  actor: string
  reason: string
  now: number
  decision: RolloutDecision | null
}

/**
 * `ModelControl` (one per model, named by the model): owns the retraining policy and the rollout
 * state machine. One alarm, pointed by the `schedule` table at the earliest job: the policy is
 * evaluated as each of its windows closes, the active rollout every `evaluationSeconds`. Every
 * decision records, in the same SQLite transaction, an outbox of effects (events in D1, alias moves,
 * Queue messages for webhooks) that are applied in order and retried until they succeed. Rollout
 * transitions are compare-and-set on `(rolloutId, step, status)` and evaluation jobs are named by
 * the step they judge, so a replayed alarm or a manual action racing an evaluation never skips or
 * repeats a step. See docs/rollouts.md.
 */
export class ModelControl extends DurableObject<Env> {
  /** The clock of evaluations; tests replace it (`runInDurableObject`) to close windows at will. */
  now: () => number = () => Date.now()
  /** Runs inside a rollout transition's transaction just before it commits; tests throw from it to simulate a crash. */
  beforeTransitionCommit: (() => void) | undefined = undefined
  private readonly sql: SqlStorage
  private readonly schedule: Schedule
  private draining: Promise<unknown> | null = null
  /**
   * Whether this object's tables exist. They are created by the first write only, so reading the
   * control of a model that has none (a route's 404, an assignment of an unknown model) leaves no
   * object with storage behind.
   */
  private schemaReady: boolean
  #turn: Promise<unknown> = Promise.resolve()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    this.schedule = new Schedule(this.sql, ctx.storage)
    this.schemaReady =
      this.sql
        .exec<{ n: number }>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'meta'")
        .one().n === 1
    // An object created before ROLLOUT_SCHEMA existed gets its tables on start (IF NOT EXISTS: idempotent).
    if (this.schemaReady) this.ensureSchema()
  }

  /** Creates the tables (idempotent); called by every path that writes. */
  private ensureSchema(): void {
    for (const statement of [...CONTROL_SCHEMA, ...ROLLOUT_SCHEMA, ...SLO_SCHEMA]) this.sql.exec(statement)
    this.schemaReady = true
  }

  /** Replaces the model's retraining policy (audited as a `policy.updated` event) and schedules its evaluation. */
  async setPolicy(model: string, policy: RetrainPolicy, actor: string): Promise<PolicyView> {
    const now = this.now()
    this.ensureSchema()
    this.ctx.storage.transactionSync(() => {
      setModelName(this.sql, model)
      const revision = savePolicy(this.sql, policy, now, actor)
      const { webhook, ...rest } = policy
      const details = { revision, ...rest, ...(webhook ? { webhook: { url: webhook.url } } : {}) }
      const id = newEventId()
      addEffect(
        this.sql,
        `event:${id}`,
        { kind: 'event', event: { id, type: 'policy.updated', model, actor, at: now, details } },
        now,
      )
      this.schedule.set(DRAIN, now)
      if (policy.enabled) this.schedule.set(EVALUATE, nextEvaluationAt(policy.when, now, policy.graceMinutes * 60_000))
      else this.schedule.clear(EVALUATE)
    })
    await this.drain(now)
    return (await this.getPolicy())!
  }

  /** The policy with its state, secret redacted; null when none was set. */
  async getPolicy(): Promise<PolicyView | null> {
    if (!this.schemaReady) return null
    const stored = loadPolicy(this.sql)
    const model = getModelName(this.sql)
    if (!stored || model === null) return null
    return policyView(model, stored, loadState(this.sql), this.schedule.dueAt(EVALUATE))
  }

  /**
   * Judges the policy now, as the alarm does when a window closes, and reschedules the next
   * evaluation. With `closeOpenWindow` the window still open is judged as if it had just closed
   * (development only: the route refuses it elsewhere), so a local fleet need not wait for a UTC
   * window boundary. A firing is the same `retrain.requested`, its details naming who asked.
   */
  async evaluatePolicyNow(actor: string, closeOpenWindow: boolean): Promise<RpcResult<PolicyView | null>> {
    return capture(async () => {
      if (!this.schemaReady) return null
      const stored = loadPolicy(this.sql)
      if (!stored || getModelName(this.sql) === null) return null
      if (!stored.policy.enabled)
        throw new EdgefleetError('conflict', 'the retraining policy is disabled; enable it before evaluating it')
      const now = this.now()
      const { when, graceMinutes } = stored.policy
      const at = closeOpenWindow ? nextEvaluationAt(when, now, graceMinutes * 60_000) : now
      await this.evaluate(now, { actor, at })
      await this.schedule.arm(this.now())
      return this.getPolicy()
    })
  }

  /**
   * Where and how to sign the webhook of an event of type `type` (the Queue consumer's only way to the
   * secret): the SLOs' webhook for `slo.*` events, the retraining policy's for the others.
   */
  async webhookTarget(type = 'retrain.requested'): Promise<{ url: string; secret: string } | null> {
    if (!this.schemaReady) return null
    const webhook = type.startsWith('slo.') ? loadSlo(this.sql)?.slo.webhook : loadPolicy(this.sql)?.policy.webhook
    return webhook && webhook.secret !== '' ? { url: webhook.url, secret: webhook.secret } : null
  }

  /** Runs the due jobs: evaluate the policy, drain the outbox; then re-arms. */
  override async alarm(): Promise<void> {
    if (!this.schemaReady) return
    const now = this.now()
    for (const job of this.schedule.due(now)) {
      try {
        if (job === EVALUATE) await this.evaluate(now)
        else if (job === SLO_EVALUATE) await this.evaluateSlo(now)
        else if (job === DRAIN) await this.drain(now)
        else if (job.startsWith(ROLLOUT_EVALUATE)) await this.evaluateRollout(job, now)
        else this.schedule.clear(job)
      } catch (e) {
        console.error(`ModelControl job ${job} failed`, e)
        this.schedule.set(job, now + RETRY_MS)
      }
    }
    await this.schedule.arm(this.now())
  }

  /** Replaces the model's SLOs (audited as `slo.updated`) and judges them at once, then every minute. */
  async setSlo(model: string, slo: SloConfig, actor: string): Promise<SloView> {
    const now = this.now()
    this.ensureSchema()
    this.ctx.storage.transactionSync(() => {
      setModelName(this.sql, model)
      const revision = saveSlo(this.sql, slo, now, actor)
      const { webhook, ...rest } = slo
      const details = { revision, ...rest, ...(webhook ? { webhook: { url: webhook.url } } : {}) }
      const id = newEventId()
      addEffect(
        this.sql,
        `event:${id}`,
        { kind: 'event', event: { id, type: 'slo.updated', model, actor, at: now, details } },
        now,
      )
      this.schedule.set(DRAIN, now)
      // Judged just below, so the next evaluation is the next minute's.
      if (slo.enabled) this.schedule.set(SLO_EVALUATE, Math.floor(now / MINUTE) * MINUTE + MINUTE)
      else this.schedule.clear(SLO_EVALUATE)
    })
    await this.drain(now)
    if (slo.enabled) {
      try {
        await this.evaluateSlo(now)
      } catch (e) {
        // The fleet could not be read: the alarm tries again.
        console.error('SLO evaluation failed', e)
        this.schedule.set(SLO_EVALUATE, now + RETRY_MS)
      }
      await this.schedule.arm(this.now())
    }
    return (await this.getSlo())!
  }

  /** The SLOs, secret redacted; null when none were set. */
  async getSlo(): Promise<SloView | null> {
    if (!this.schemaReady) return null
    const stored = loadSlo(this.sql)
    const model = getModelName(this.sql)
    if (!stored || model === null) return null
    return sloView(model, stored, loadSloStatus(this.sql)?.evaluatedAt ?? null, this.schedule.dueAt(SLO_EVALUATE))
  }

  /** The last evaluation of the SLOs; null when none were set or none was evaluated yet. */
  async getSloStatus(): Promise<SloStatus | null> {
    if (!this.schemaReady || !loadSlo(this.sql)) return null
    return loadSloStatus(this.sql)
  }

  /**
   * Judges the SLOs now, as the minute's evaluation does; a state change records its event naming who
   * asked. With `closeOpenWindow` the windows end at the next minute boundary, so the minute still open
   * counts as if complete (development only: the route refuses it elsewhere).
   */
  async evaluateSloNow(actor: string, closeOpenWindow = false): Promise<RpcResult<SloStatus | null>> {
    return capture(async () => {
      if (!this.schemaReady) return null
      const stored = loadSlo(this.sql)
      if (!stored || getModelName(this.sql) === null) return null
      if (!stored.slo.enabled)
        throw new EdgefleetError('conflict', 'the SLOs are disabled; enable them before evaluating')
      const now = this.now()
      await this.evaluateSlo(now, {
        actor,
        windowsAt: closeOpenWindow ? Math.ceil(now / MINUTE) * MINUTE + SLO_LAG_MS : now,
      })
      await this.schedule.arm(this.now())
      return loadSloStatus(this.sql)
    })
  }

  /**
   * Starts a rollout (config validated and `baseline` resolved by the route). One active rollout
   * per model: another running or paused one is a `conflict`.
   */
  async startRollout(
    model: string,
    config: RolloutConfig & { baseline: number },
    actor: string,
  ): Promise<RpcResult<RolloutView>> {
    return capture(() =>
      this.exclusive(async () => {
        // Checked again here, in turn with deprecations: the route's read may be older than one.
        const deprecated = await deprecatedAmong(this.env.DB, model, [config.candidate, config.baseline])
        if (deprecated.length > 0)
          throw new EdgefleetError('deprecated', `version ${deprecated[0]} is deprecated`, {
            pointer: deprecated[0] === config.candidate ? '/candidate' : '/baseline',
          })
        return this.start(model, config, actor)
      }),
    )
  }

  /**
   * Deprecates a version unless an active rollout runs it (as candidate or baseline: `conflict`, finish
   * or roll back the rollout first). In turn with rollout starts, so either the rollout starts first
   * and the deprecation is refused, or the deprecation lands first and the start is refused. True
   * when this call deprecated it (false: already deprecated, or aliased).
   */
  async deprecateVersion(model: string, version: number, actor: string): Promise<RpcResult<boolean>> {
    return capture(() =>
      this.exclusive(async () => {
        const active = this.schemaReady ? activeRollout(this.sql) : null
        if (active && (active.config.candidate === version || active.config.baseline === version)) {
          const role = active.config.candidate === version ? 'candidate' : 'baseline'
          throw new EdgefleetError(
            'conflict',
            `version ${version} is the ${role} of rollout ${active.state.id} (${active.state.status}): roll it back or finish it first`,
            { pointer: '/deprecated', data: { rollout: active.state.id } },
          )
        }
        return deprecateWithEvent(this.env.DB, model, version, actor, this.now())
      }),
    )
  }

  /** Runs rollout starts and deprecations one at a time (each awaits D1, where others could interleave). */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#turn.then(task, task)
    this.#turn = next.catch(() => undefined)
    return next
  }

  private async start(
    model: string,
    config: RolloutConfig & { baseline: number },
    actor: string,
  ): Promise<RolloutView> {
    const now = this.now()
    const id = newRolloutId()
    this.ensureSchema()
    this.ctx.storage.transactionSync(() => {
      const active = activeRollout(this.sql)
      if (active)
        throw new EdgefleetError(
          'conflict',
          `model "${model}" already has an active rollout (${active.state.id}, ${active.state.status}): finish it first`,
          { data: { rollout: active.state.id } },
        )
      setModelName(this.sql, model)
      const state: RolloutState = { id, status: 'running', step: 0, stepStartedAt: now }
      insertRollout(this.sql, {
        config,
        state,
        reason: null,
        createdAt: now,
        createdBy: actor,
        updatedAt: now,
        lastDecision: null,
      })
      const eventId = newEventId()
      addTransition(this.sql, id, {
        at: now,
        action: 'start',
        reason: 'started',
        actor,
        from: null,
        to: { status: 'running', step: 0 },
        eventId,
      })
      const details = {
        rollout: id,
        mode: config.mode,
        candidate: config.candidate,
        baseline: config.baseline,
        percent: config.steps[0].percent,
        config,
      }
      addEffect(
        this.sql,
        `event:${eventId}`,
        { kind: 'event', event: { id: eventId, type: 'rollout.started', model, actor, at: now, details } },
        now,
      )
      this.schedule.set(DRAIN, now)
      this.schedule.set(`${ROLLOUT_EVALUATE}${id}:0`, now + config.evaluationSeconds * 1000)
    })
    await this.drain(now)
    return (await this.getRollout(id))!
  }

  /** A rollout's view by id, or the model's newest rollout with `current`; null when there is none. */
  async getRollout(id: string): Promise<RolloutView | null> {
    if (!this.schemaReady) return null
    const r = id === 'current' ? latestRollout(this.sql) : getRollout(this.sql, id)
    const model = getModelName(this.sql)
    if (!r || model === null) return null
    const next = isActive(r.state) ? this.schedule.dueAtPrefix(`${ROLLOUT_EVALUATE}${r.state.id}:`) : null
    return rolloutView(model, r, transitionsOf(this.sql, r.state.id), next)
  }

  /** What the assign route caches: the active rollout, or null. */
  async assignView(): Promise<RolloutAssignView | null> {
    if (!this.schemaReady) return null
    const r = activeRollout(this.sql)
    return r ? assignViewOf(r) : null
  }

  /**
   * An operator's action on a rollout. `expectStep` makes it a compare-and-set on the step the
   * operator saw; a transition the state does not allow is a `conflict` (core/rollout/machine.ts).
   */
  async actOnRollout(
    id: string,
    action: RolloutTransitionAction,
    actor: string,
    body: RolloutActionBody = {},
  ): Promise<RpcResult<RolloutView>> {
    return capture(() => this.act(id, action, actor, body))
  }

  private async act(
    id: string,
    action: RolloutTransitionAction,
    actor: string,
    body: RolloutActionBody,
  ): Promise<RolloutView> {
    const now = this.now()
    if (!this.schemaReady) throw new EdgefleetError('not_found', `rollout ${id} does not exist`)
    this.ctx.storage.transactionSync(() => {
      const r = getRollout(this.sql, id)
      const model = getModelName(this.sql)
      if (!r || model === null) throw new EdgefleetError('not_found', `rollout ${id} does not exist`)
      if (body.expectStep !== undefined && r.state.step !== body.expectStep)
        throw new EdgefleetError('conflict', `rollout ${id} is at step ${r.state.step}, not ${body.expectStep}`, {
          pointer: '/expectStep',
        })
      this.transition({ model, rollout: r, action, actor, reason: body.reason ?? 'manual', now, decision: null })
    })
    await this.drain(now)
    return (await this.getRollout(id))!
  }

  /**
   * Moves a rollout (inside the caller's transaction): compare-and-set on its state, a timeline
   * entry, the event, the alias move on promote and a webhook message on rollback, pause and
   * promote, all in the outbox; then the evaluation job of the new step (or none once ended).
   */
  private transition(move: RolloutMove): void {
    const { model, rollout: r, action, actor, reason, now, decision } = move
    const to = nextState(r.config, r.state, action, now)
    const stored = to.status === 'running' ? null : reason
    if (!casState(this.sql, r.state, to, stored, now))
      throw new EdgefleetError('conflict', `rollout ${r.state.id} changed meanwhile; read it again`)
    const eventId = newEventId()
    const from = { status: r.state.status, step: r.state.step }
    addTransition(this.sql, r.state.id, {
      at: now,
      action,
      reason,
      actor,
      from,
      to: { status: to.status, step: to.step },
      eventId,
    })
    const details = {
      rollout: r.state.id,
      mode: r.config.mode,
      candidate: r.config.candidate,
      baseline: r.config.baseline,
      reason,
      steps: r.config.steps.length,
      from: { ...from, percent: percentOf(r) },
      to: { status: to.status, step: to.step, percent: percentOf({ config: r.config, state: to }) },
      ...(decision ? { evidence: decision.evidence } : {}),
    }
    addEffect(
      this.sql,
      `event:${eventId}`,
      { kind: 'event', event: { id: eventId, type: TRANSITION_EVENT[action], model, actor, at: now, details } },
      now,
    )
    const cohorts = r.config.targeting?.cohorts
    if (action === 'promote' && cohorts) {
      // A rollout aimed at cohorts promotes for them only: each is pinned to the candidate, and
      // `production` stays where it is for everyone else (docs/rollouts.md, "Cohorts").
      for (const cohort of cohorts) {
        const pinEvent = {
          id: newEventId(),
          type: 'cohort.pinned',
          model,
          actor,
          at: now,
          details: { cohort, to: r.config.candidate, rollout: r.state.id },
        }
        addEffect(
          this.sql,
          `pin:${eventId}:${cohort}`,
          { kind: 'pin', model, cohort, version: r.config.candidate, event: pinEvent },
          now,
        )
      }
    } else if (action === 'promote') {
      const aliasEvent = {
        id: newEventId(),
        type: 'alias.moved',
        model,
        actor,
        at: now,
        details: { alias: 'production', to: r.config.candidate, rollout: r.state.id },
      }
      addEffect(
        this.sql,
        `alias:${eventId}`,
        { kind: 'alias', model, alias: 'production', version: r.config.candidate, event: aliasEvent },
        now,
      )
    }
    if (NOTIFIED.has(action))
      addEffect(this.sql, `queue:${eventId}`, { kind: 'queue', message: { eventId, model } }, now)
    this.schedule.set(DRAIN, now)
    this.schedule.clearPrefix(`${ROLLOUT_EVALUATE}${r.state.id}:`)
    if (isActive(to))
      this.schedule.set(`${ROLLOUT_EVALUATE}${r.state.id}:${to.step}`, now + r.config.evaluationSeconds * 1000)
    this.beforeTransitionCommit?.()
  }

  /**
   * Judges the active rollout at the step its job names: reads the arm statistics (no lock held
   * while the shards answer), decides with core's `decide`, and applies the decision only if the
   * rollout is still at the same (id, step, status, step start) — else an operator moved it and the
   * evaluation of the new state is already scheduled. A paused rollout keeps being judged and is
   * rolled back on a breach: pausing stops advancing, never protection.
   */
  private async evaluateRollout(job: string, now: number): Promise<void> {
    const [id, stepText] = job.slice(ROLLOUT_EVALUATE.length).split(':')
    const r = activeRollout(this.sql)
    const model = getModelName(this.sql)
    if (!r || model === null || r.state.id !== id || String(r.state.step) !== stepText) return this.schedule.clear(job)
    const seen = r.state
    const { stats, window, arms } = await readArmStats(this.env, model, r, now)
    let decision = decide({ config: r.config, state: { ...seen, status: 'running' } }, stats, now)
    if (seen.status === 'paused' && decision.action !== 'rollback')
      decision = { ...decision, action: 'hold', reason: 'paused' }
    this.ctx.storage.transactionSync(() => {
      const cur = getRollout(this.sql, id)
      if (
        !cur ||
        cur.state.status !== seen.status ||
        cur.state.step !== seen.step ||
        cur.state.stepStartedAt !== seen.stepStartedAt
      )
        return
      const view: RolloutDecisionView = {
        at: now,
        step: seen.step,
        action: decision.action,
        reason: decision.reason,
        evidence: { ...decision.evidence },
        window,
        arms,
      }
      saveDecision(this.sql, id, view)
      if (decision.action === 'hold') return this.schedule.set(job, now + r.config.evaluationSeconds * 1000)
      this.transition({
        model,
        rollout: cur,
        action: decision.action,
        actor: 'rollout',
        reason: decision.reason,
        now,
        decision,
      })
    })
    await this.drain(now)
  }

  /**
   * Judges the policy on the windows closed at `asked.at` (the alarm: now) and fires when it holds
   * outside the cooldown; `asked.actor` is set when a person asked for it (evaluatePolicyNow).
   */
  private async evaluate(now: number, asked: { actor: string; at: number } | null = null): Promise<void> {
    const stored = loadPolicy(this.sql)
    const model = getModelName(this.sql)
    if (!stored || model === null || !stored.policy.enabled) return this.schedule.clear(EVALUATE)
    const { policy, revision } = stored
    const at = asked?.at ?? now
    const evaluation = await evaluatePolicy(this.env, model, policy, at)
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
          ...(asked ? { requestedBy: asked.actor, ...(at !== now ? { windowsClosedAt: at } : {}) } : {}),
        }
        addEffect(
          this.sql,
          `event:${id}`,
          { kind: 'event', event: { id, type: 'retrain.requested', model, actor: 'policy', at: now, details } },
          now,
        )
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

  /**
   * Judges every objective on the fleet (no lock held while the shards answer), stores the status,
   * and on a state change records `slo.breached` (the state worsened) or `slo.recovered` (back to ok)
   * with the evidence, queued for the SLO webhook; an unchanged state records nothing. Then the next
   * evaluation, on the next minute.
   */
  private async evaluateSlo(now: number, asked: { actor: string; windowsAt: number } | null = null): Promise<void> {
    const stored = loadSlo(this.sql)
    const model = getModelName(this.sql)
    if (!stored || model === null || !stored.slo.enabled) return this.schedule.clear(SLO_EVALUATE)
    const { slo, revision } = stored
    const reading = await readSlo(this.env, model, slo, asked?.windowsAt ?? now)
    let recorded = false
    this.ctx.storage.transactionSync(() => {
      // Compare-and-set: SLOs replaced while the fleet was read are judged again.
      if (loadSlo(this.sql)?.revision !== revision) return this.schedule.set(SLO_EVALUATE, now)
      // Never judged back in time: a reading of earlier windows than the revision's last judgement (a
      // minute's evaluation overtaken by a requested one, or one after a `closeOpenWindow` request)
      // would undo that judgement and announce a change that did not happen.
      const judged = loadJudged(this.sql)
      if (judged?.revision === revision && reading.end < judged.windowsEnd) {
        this.schedule.set(SLO_EVALUATE, Math.floor(now / MINUTE) * MINUTE + MINUTE)
        return
      }
      const states = loadObjectiveStates(this.sql)
      const objectives = reading.objectives.map((read, i) => {
        const burns = Object.fromEntries(read.windows.map((w) => [w.window, w.burnRate]))
        const next = stateOf(burns)
        const prev = states[read.name] ?? { state: 'ok' as const, since: null, lastEventId: null }
        if (next.value === prev.state) return { ...read, state: prev.state, since: prev.since }
        const type = transitionEvent(prev.state, next.value)
        let lastEventId = prev.lastEventId
        if (type) {
          const id = newEventId()
          const details = {
            objective: slo.objectives[i],
            target: read.target,
            from: prev.state,
            to: next.value,
            severity: next.value === 'breached-fast' ? 'page' : next.value === 'breached-slow' ? 'ticket' : null,
            reason: next.reason,
            version: reading.version,
            sloRevision: revision,
            evaluatedAt: now,
            windows: read.windows,
            budget: read.budget,
            ...(asked ? { requestedBy: asked.actor } : {}),
          }
          addEffect(
            this.sql,
            `event:${id}`,
            { kind: 'event', event: { id, type, model, actor: 'slo', at: now, details } },
            now,
          )
          addEffect(this.sql, `queue:${id}`, { kind: 'queue', message: { eventId: id, model } }, now)
          this.schedule.set(DRAIN, now)
          lastEventId = id
          recorded = true
        }
        saveObjectiveState(this.sql, read.name, { state: next.value, since: now, lastEventId })
        return { ...read, state: next.value, since: now }
      })
      saveSloStatus(this.sql, { model, version: reading.version, evaluatedAt: now, period: slo.period, objectives })
      saveJudged(this.sql, revision, reading.end)
      this.schedule.set(SLO_EVALUATE, Math.floor(now / MINUTE) * MINUTE + MINUTE)
    })
    if (recorded) await this.drain(now)
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

/** A fresh rollout id (also its `bucket/1` salt): `ro_` + 16 random hex characters. */
function newRolloutId(): string {
  return 'ro_' + toHex(crypto.getRandomValues(new Uint8Array(8)))
}
