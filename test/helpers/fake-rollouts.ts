import { EdgefleetError } from '../../core/errors.ts'
import {
  DeviceCounts,
  RolloutView,
  type ArmView,
  type RolloutActionBody,
  type RolloutConfig,
  type RolloutStats,
  type RolloutTransitionView,
} from '../../core/formats/rollout.ts'
import { decide } from '../../core/rollout/decide.ts'
import { isActive, nextState, type RolloutTransitionAction } from '../../core/rollout/machine.ts'
import { deviceRates, meanVariance, momentsOf } from '../../core/rollout/sequential.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import type { FeatureQuality } from '../../core/formats/quality.ts'
import { qualityView } from '../../core/telemetry/quality.ts'

const MINUTE = 60_000

/** One device of an arm as its reports add up over the step: counts and the latency of every inference. */
export interface DeviceSample {
  inferences: number
  errors: number
  fallbacks?: number
  compared?: number
  agreed?: number
  labeled?: number
  correct?: number
  latencyMs: number
}

/** What the fleet telemetry holds of one arm within the current step. */
export interface ArmSample {
  devices: DeviceSample[]
  /** Devices counted for the sample-ratio check (default: all). */
  settledDevices?: number
  driftJsMax?: number | null
  /** Merged data-quality counts per input feature. */
  quality?: Record<string, FeatureQuality>
  /** Counts per slice dimension and value (the `slice_gap` guardrail). */
  slices?: RolloutStats['baseline']['slices']
}

/**
 * The rollouts of the fake edge, kept as the edge keeps them: one RolloutView per rollout, newest
 * last, moved by core's state machine (`nextState`) and judged by core's `decide` on arm samples,
 * so the views the CLI reads carry real evidence. Every view handed out passes the RolloutView schema.
 */
export class FakeRollouts {
  readonly byModel = new Map<string, RolloutView[]>()
  /** The edge's clock. */
  now = Date.UTC(2026, 3, 26, 12)
  private seq = 0

  /** Starts a rollout (config parsed, baseline resolved); a running or paused one is a conflict. */
  start(model: string, config: RolloutConfig & { baseline: number }, actor: string): RolloutView {
    const views = this.byModel.get(model) ?? []
    const active = views.find((v) => isActive(v))
    if (active)
      throw new EdgefleetError(
        'conflict',
        `model "${model}" already has an active rollout (${active.id}, ${active.status}): finish it first`,
      )
    const id = `ro_${(++this.seq).toString(16).padStart(16, '0')}`
    const start: RolloutTransitionView = {
      at: this.now,
      action: 'start',
      reason: 'started',
      actor,
      from: null,
      to: { status: 'running', step: 0 },
      eventId: this.eventId(),
    }
    const view: RolloutView = {
      id,
      model,
      config,
      status: 'running',
      step: 0,
      percent: config.steps[0].percent,
      stepStartedAt: this.now,
      reason: null,
      createdAt: this.now,
      createdBy: actor,
      updatedAt: this.now,
      nextEvaluationAt: this.now + config.evaluationSeconds * 1000,
      lastDecision: null,
      transitions: [start],
    }
    this.byModel.set(model, [...views, view])
    return RolloutView.parse(view)
  }

  /** A rollout by id, or the newest with `current`. */
  get(model: string, id: string): RolloutView | null {
    const views = this.byModel.get(model) ?? []
    const view = id === 'current' ? views.at(-1) : views.find((v) => v.id === id)
    return view === undefined ? null : RolloutView.parse(view)
  }

  /** An operator's action, compare-and-set on `expectStep` as the edge does it. */
  act(model: string, id: string, action: RolloutTransitionAction, body: RolloutActionBody, actor: string): RolloutView {
    const view = this.byModel.get(model)?.find((v) => v.id === id)
    if (!view) throw new EdgefleetError('not_found', `rollout ${id} does not exist`)
    if (body.expectStep !== undefined && view.step !== body.expectStep)
      throw new EdgefleetError('conflict', `rollout ${id} is at step ${view.step}, not ${body.expectStep}`, {
        pointer: '/expectStep',
      })
    this.move(view, action, body.reason ?? 'manual', actor)
    return RolloutView.parse(view)
  }

  /** Judges the model's active rollout on these arm samples at `now`, records the decision and applies it. */
  evaluate(model: string, arms: { baseline: ArmSample; candidate: ArmSample }): RolloutView {
    const view = this.byModel.get(model)?.find((v) => isActive(v))
    if (!view) throw new Error(`no active rollout of ${model}`)
    const config = view.config as RolloutConfig & { baseline: number }
    const b = armOf(arms.baseline, config.baseline)
    const c = armOf(arms.candidate, config.candidate)
    const stats: RolloutStats = { baseline: b.stats, candidate: c.stats }
    let decision = decide(
      { config, state: { id: view.id, status: 'running', step: view.step, stepStartedAt: view.stepStartedAt } },
      stats,
      this.now,
    )
    if (view.status === 'paused' && decision.action !== 'rollback')
      decision = { ...decision, action: 'hold', reason: 'paused' }
    const start = view.stepStartedAt
    const window = {
      from: Math.floor(start / MINUTE) * MINUTE,
      settledFrom: Math.ceil((start + config.ttlSeconds * 1000 + 5000) / MINUTE) * MINUTE,
      to: (Math.floor(this.now / MINUTE) + 1) * MINUTE,
    }
    // Stored as JSON at the edge: what the CLI reads is the round trip (an infinite Λ becomes null).
    const evidence = JSON.parse(JSON.stringify(decision.evidence))
    view.lastDecision = {
      at: this.now,
      step: view.step,
      action: decision.action,
      reason: decision.reason,
      evidence,
      window,
      arms: { baseline: b.view, candidate: c.view },
    }
    if (decision.action === 'hold') view.nextEvaluationAt = this.now + config.evaluationSeconds * 1000
    else this.move(view, decision.action, decision.reason, 'rollout')
    return RolloutView.parse(view)
  }

  private move(view: RolloutView, action: RolloutTransitionAction, reason: string, actor: string): void {
    const config = view.config as RolloutConfig
    const to = nextState(
      config,
      { id: view.id, status: view.status, step: view.step, stepStartedAt: view.stepStartedAt },
      action,
      this.now,
    )
    view.transitions.push({
      at: this.now,
      action,
      reason,
      actor,
      from: { status: view.status, step: view.step },
      to: { status: to.status, step: to.step },
      eventId: this.eventId(),
    })
    Object.assign(view, {
      status: to.status,
      step: to.step,
      stepStartedAt: to.stepStartedAt,
      percent: to.status === 'rolled_back' ? 0 : to.status === 'promoted' ? 100 : config.steps[to.step].percent,
      reason: to.status === 'running' ? null : reason,
      updatedAt: this.now,
      nextEvaluationAt: isActive(to) ? this.now + config.evaluationSeconds * 1000 : null,
    })
  }

  private eventId(): string {
    return `evt_${(++this.seq).toString(16).padStart(20, '0')}`
  }
}

/** An arm's statistics for `decide` and its view for the status, as edge/control/arm-stats.ts builds them. */
function armOf(sample: ArmSample, version: number): { stats: RolloutStats['baseline']; view: ArmView } {
  const perDevice = sample.devices.map(({ latencyMs: _, ...counts }) => DeviceCounts.parse({ fallbacks: 0, ...counts }))
  const sketch = new DDSketch()
  for (const d of sample.devices) if (d.inferences > 0) sketch.add(d.latencyMs, d.inferences)
  const sum = (k: keyof DeviceCounts) => perDevice.reduce((s, d) => s + d[k], 0)
  const mean = (metric: 'error_rate' | 'fallback_rate') => {
    const m = momentsOf(deviceRates(perDevice, metric))
    return m.n > 0 ? meanVariance(m).mean : null
  }
  const settledDevices = sample.settledDevices ?? perDevice.length
  const driftJsMax = sample.driftJsMax ?? null
  const latency = sketch.count > 0 ? sketch.toJSON() : null
  const worst = qualityView(sample.quality ?? {}).worst
  return {
    stats: {
      devices: perDevice.length,
      settledDevices,
      inferences: sum('inferences'),
      perDevice,
      latency,
      driftJsMax,
      ...(sample.quality ? { quality: sample.quality } : {}),
      ...(sample.slices ? { slices: sample.slices } : {}),
    },
    view: {
      version,
      devices: perDevice.length,
      settledDevices,
      inferences: sum('inferences'),
      errors: sum('errors'),
      errorRate: mean('error_rate'),
      fallbackRate: mean('fallback_rate'),
      latencyP95: sketch.count > 0 ? sketch.quantile(0.95) : null,
      driftJsMax,
      shadow: { compared: sum('compared'), agreed: sum('agreed') },
      feedback: { labeled: sum('labeled'), correct: sum('correct') },
      quality: worst === null ? null : { ...worst, rows: sample.quality?.[worst.feature]?.rows ?? 0 },
    },
  }
}
