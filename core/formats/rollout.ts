import * as z from 'zod'
import { CohortLabel } from './cohort.ts'
import { Count, EpochMs } from './common.ts'
import { CalibratedSums, EstimatedAccuracy } from './calibrated.ts'
import { FeatureQuality } from './quality.ts'
import { SketchJson } from './sketch.ts'
import { SliceCounts, SliceDimension } from './slices.ts'

/**
 * Rollouts (DESIGN.md "Rollouts"): the config an operator sets, the state `ModelControl` keeps, and
 * the per-arm statistics the fleet telemetry hands to `decide` (core/rollout/decide.ts).
 *
 * ```json
 * {"candidate": 7, "baseline": 6, "mode": "canary",
 *  "steps": [{"percent": 1, "minMinutes": 30, "minDevices": 50, "minInferences": 5000},
 *            {"percent": 25, "minMinutes": 60, "minDevices": 200, "minInferences": 20000},
 *            {"percent": 100, "minMinutes": 60, "minDevices": 500, "minInferences": 50000}],
 *  "guardrails": [{"metric": "error_rate", "maxDiff": 0.005}, {"metric": "latency_p95", "maxRatio": 1.2},
 *                 {"metric": "data_quality", "maxRate": 0.02}],
 *  "evaluationSeconds": 300}
 * ```
 */
export const ROLLOUT_FORMAT = 'rollout/1'

/** A version number in the registry. */
const Version = z.number().int().positive()

/** One step of a rollout: the candidate's share and what must be seen before leaving it. */
export const RolloutStep = z.strictObject({
  /** Candidate share in percent, (0, 100], resolution 0.001 (`bucket/1`). */
  percent: z.number().gt(0).lte(100),
  minMinutes: z.number().nonnegative().default(0),
  /** Distinct devices per arm within the step (an arm expected to be empty is exempt). */
  minDevices: Count.min(1),
  /** Inferences per arm within the step (same exemption). */
  minInferences: Count.default(0),
})
export type RolloutStep = z.infer<typeof RolloutStep>

/** Rate metrics, judged per device with the sequential test (core/rollout/sequential.ts). */
export const RateMetric = z.enum(['error_rate', 'fallback_rate', 'shadow_disagreement'])
export type RateMetric = z.infer<typeof RateMetric>

/** Devices each arm needs (with a non-zero denominator) before a rate guardrail is tested: the plug-in variance needs a few. */
export const DEFAULT_GUARDRAIL_MIN_DEVICES = 10
/** Labels each arm needs before `accuracy` is judged. */
export const DEFAULT_MIN_LABELED = 100

const Rate = z.number().min(0).lt(1)

/**
 * A rate guardrail: `maxDiff` bounds candidate − baseline (mean of per-device rates), `max` bounds
 * the candidate alone; exactly one of them. `tau` is the sd of the mSPRT's mixing distribution.
 */
export const RateGuardrail = z
  .strictObject({
    metric: RateMetric,
    maxDiff: Rate.optional(),
    max: Rate.optional(),
    minDevices: Count.min(2).default(DEFAULT_GUARDRAIL_MIN_DEVICES),
    tau: z.number().positive().lte(1).optional(),
  })
  .refine((g) => (g.maxDiff === undefined) !== (g.max === undefined), {
    message: 'exactly one of maxDiff and max',
    path: ['maxDiff'],
  })

/** candidate p95 ÷ baseline p95 (merged sketches) must stay ≤ `maxRatio`. */
export const LatencyGuardrail = z.strictObject({ metric: z.literal('latency_p95'), maxRatio: z.number().gt(0) })
/** The candidate's largest Jensen–Shannon drift (base 2, in [0, 1]) must stay ≤ `max`. */
export const DriftGuardrail = z.strictObject({ metric: z.literal('drift_js_max'), max: z.number().gt(0).lte(1) })
/** candidate accuracy ÷ baseline accuracy (feedback labels) must stay ≥ `minRatio`. */
export const AccuracyGuardrail = z.strictObject({
  metric: z.literal('accuracy'),
  minRatio: z.number().gt(0).lte(2),
  minLabeled: Count.min(1).default(DEFAULT_MIN_LABELED),
})

/** Predictions with a calibrated confidence each arm needs before `estimated_accuracy` is judged. */
export const DEFAULT_MIN_CALIBRATED = 200

/**
 * candidate estimated accuracy ÷ baseline estimated accuracy (each arm's calibrated confidences
 * against its own version's calibration map, no labels needed) must stay ≥ `minRatio`.
 */
export const EstimatedAccuracyGuardrail = z.strictObject({
  metric: z.literal('estimated_accuracy'),
  minRatio: z.number().gt(0).lte(2),
  minPredictions: Count.min(1).default(DEFAULT_MIN_CALIBRATED),
})
export type EstimatedAccuracyGuardrail = z.infer<typeof EstimatedAccuracyGuardrail>

/** Rows with data-quality counts each arm needs before `data_quality` is judged. */
export const DEFAULT_MIN_QUALITY_ROWS = 100

/**
 * The worst input feature's data-quality problem rate (core/telemetry/quality.ts): candidate −
 * baseline must stay ≤ `maxRate`, or with `absolute`, the candidate's rate alone.
 */
export const DataQualityGuardrail = z.strictObject({
  metric: z.literal('data_quality'),
  maxRate: z.number().gt(0).lte(1),
  absolute: z.boolean().default(false),
  minRows: Count.min(1).default(DEFAULT_MIN_QUALITY_ROWS),
})
export type DataQualityGuardrail = z.infer<typeof DataQualityGuardrail>

/**
 * One of `values`, refused by a refinement whose message names the field and every value allowed
 * (`dimension is one of backend, …`), which the CLI shows as it is.
 */
function oneOf<const T extends readonly string[]>(name: string, values: T) {
  return z
    .string()
    .refine((v) => values.includes(v), `${name} is one of ${values.join(', ')}`)
    .transform((v) => v as T[number])
    .meta({ enum: [...values] })
}

/** Devices each arm needs on a slice before `slice_gap` compares that slice. */
export const DEFAULT_SLICE_MIN_DEVICES = 5

/**
 * The bias check (core/telemetry/slice-gap.ts): on every slice of `dimension` with at least
 * `minDevices` devices on both arms, candidate error rate − baseline error rate (or, with `measure:
 * accuracy`, baseline accuracy − candidate accuracy) must stay ≤ `max`.
 */
export const SliceGapGuardrail = z.strictObject({
  metric: z.literal('slice_gap'),
  dimension: oneOf('dimension', SliceDimension.options),
  max: z.number().gt(0).lt(1),
  measure: oneOf('measure', ['error_rate', 'accuracy'] as const).default('error_rate'),
  minDevices: Count.min(1).default(DEFAULT_SLICE_MIN_DEVICES),
})
export type SliceGapGuardrail = z.infer<typeof SliceGapGuardrail>

/** Sessions each arm needs before `crash_rate` is judged. */
export const DEFAULT_MIN_SESSIONS = 100

/**
 * candidate crash rate − baseline crash rate must stay ≤ `maxDiff`, each arm's rate being crash-like
 * events / sessions (docs/device-health.md), once both arms have `minSessions` sessions.
 */
export const CrashRateGuardrail = z.strictObject({
  metric: z.literal('crash_rate'),
  maxDiff: z.number().min(0).lt(1),
  minSessions: Count.min(1).default(DEFAULT_MIN_SESSIONS),
})
export type CrashRateGuardrail = z.infer<typeof CrashRateGuardrail>

/**
 * One guardrail of a rollout, chosen by `metric`: an error points at the field of that guardrail that
 * is wrong (`/guardrails/0/maxDiff`), or at `metric` when no guardrail has that name.
 */
export const Guardrail = z.discriminatedUnion('metric', [
  RateGuardrail,
  LatencyGuardrail,
  DriftGuardrail,
  AccuracyGuardrail,
  DataQualityGuardrail,
  EstimatedAccuracyGuardrail,
  SliceGapGuardrail,
  CrashRateGuardrail,
])
export type Guardrail = z.infer<typeof Guardrail>
export type RateGuardrail = z.infer<typeof RateGuardrail>

/** Which devices take part; devices outside it never carry the rollout, so arm shares are among targeted devices. */
export const Targeting = z.strictObject({
  webgpu: z.boolean().optional(),
  f16: z.boolean().optional(),
  /** Minimum `navigator.deviceMemory` in GiB. */
  minDeviceMemory: z.number().positive().optional(),
  platforms: z.array(z.string().min(1).max(64)).min(1).max(32).optional(),
  /** Allow-list of device ids. */
  devices: z.array(z.string().min(1).max(128)).min(1).max(10_000).optional(),
  /** Cohort labels (from the model's allow-list, docs/rollouts.md "Cohorts"): only devices in one of them take part. */
  cohorts: z
    .array(CohortLabel)
    .min(1)
    .max(1_000)
    .refine((vs) => new Set(vs).size === vs.length, 'cohorts must be unique')
    .optional(),
})
export type Targeting = z.infer<typeof Targeting>

/** The rollout config (`rollout/1`). */
export const RolloutConfig = z
  .strictObject({
    candidate: Version,
    baseline: Version.optional(),
    mode: z.enum(['canary', 'ab', 'shadow']),
    steps: z.array(RolloutStep).min(1).max(20),
    guardrails: z.array(Guardrail).max(16).default([]),
    targeting: Targeting.optional(),
    evaluationSeconds: z.number().int().min(10).max(86_400).default(300),
    /** Assignment TTL of devices (DESIGN: default 30, at most 60). */
    ttlSeconds: z.number().int().min(1).max(60).default(30),
    /** Total false-rollback rate, split across the rate guardrails. */
    alpha: z.number().gt(0).lt(1).default(0.05),
    /** `shadow` mode: the share of a candidate-arm device's predictions the shadow model also runs. */
    shadowSampleRate: z.number().gt(0).lte(1).default(0.2),
  })
  .superRefine((c, ctx) => {
    for (let i = 1; i < c.steps.length; i++) {
      if (!(c.steps[i].percent > c.steps[i - 1].percent))
        ctx.addIssue({ code: 'custom', path: ['steps', i, 'percent'], message: 'percents must be strictly increasing' })
    }
    if (c.mode === 'ab' && c.steps.length !== 1)
      ctx.addIssue({ code: 'custom', path: ['steps'], message: 'an ab rollout has exactly one step (its fixed split)' })
  })
export type RolloutConfig = z.infer<typeof RolloutConfig>

/** Where a rollout stands; `ModelControl` owns it and compare-and-sets `(id, step)`. */
export const RolloutState = z.strictObject({
  id: z.string().min(1),
  status: z.enum(['running', 'paused', 'rolled_back', 'promoted']),
  /** Index into `steps`. */
  step: Count,
  stepStartedAt: EpochMs,
})
export type RolloutState = z.infer<typeof RolloutState>

/** A rollout as `decide` reads it. */
export const Rollout = z.strictObject({ config: RolloutConfig, state: RolloutState })
export type Rollout = z.infer<typeof Rollout>

/** One device's counts over the judged range (a `device_stats` row summed per device). */
export const DeviceCounts = z.strictObject({
  inferences: Count,
  errors: Count,
  fallbacks: Count,
  compared: Count.default(0),
  agreed: Count.default(0),
  labeled: Count.default(0),
  correct: Count.default(0),
})
export type DeviceCounts = z.infer<typeof DeviceCounts>

/** Sufficient statistics of per-device rates: devices with a non-zero denominator, Σ rate, Σ rate². */
export const RateMoments = z.strictObject({ n: Count, sum: z.number().nonnegative(), sumSq: z.number().nonnegative() })
export type RateMoments = z.infer<typeof RateMoments>

/** Per-arm totals and per-device rate moments, instead of the per-device rows. */
export const ArmSummary = z.strictObject({
  inferences: Count,
  labeled: Count,
  correct: Count,
  rates: z.strictObject({ error_rate: RateMoments, fallback_rate: RateMoments, shadow_disagreement: RateMoments }),
})
export type ArmSummary = z.infer<typeof ArmSummary>

/** What the fleet telemetry knows of one arm. */
export const ArmStats = z
  .strictObject({
    /** Exact distinct devices of the arm within the current step. */
    devices: Count,
    /**
     * Distinct devices counted only from the first minute in which every device must hold the
     * step's assignment (step start + ttl + the edge's config cache): the sample-ratio check uses
     * these, so devices that changed arm at the step boundary are not counted in both. Defaults to `devices`.
     */
    settledDevices: Count.optional(),
    /** Inferences of the arm within the current step. */
    inferences: Count,
    perDevice: z.array(DeviceCounts).optional(),
    summary: ArmSummary.optional(),
    /** Merged latency sketch of the arm; null when nothing was reported. */
    latency: SketchJson.nullable(),
    /** Largest JS drift over the arm's features and outputs; null when none was computable. */
    driftJsMax: z.number().min(0).lte(1).nullable(),
    /** Merged data-quality counts per input feature; absent or empty when none were reported. */
    quality: z.record(z.string(), FeatureQuality).optional(),
    /** Merged calibrated-confidence sums; absent when the arm's version has no calibration map or none arrived. */
    calibrated: CalibratedSums.optional(),
    /** Per slice dimension a `slice_gap` guardrail names, the arm's counts per slice value. */
    slices: z.partialRecord(SliceDimension, z.record(z.string(), SliceCounts)).optional(),
    /** Crash-like events and sessions of the arm (core/telemetry/health.ts); absent: none counted. */
    health: z.strictObject({ crashes: Count, sessions: Count }).optional(),
  })
  .refine((a) => (a.perDevice === undefined) !== (a.summary === undefined), {
    message: 'exactly one of perDevice and summary',
    path: ['perDevice'],
  })
export type ArmStats = z.infer<typeof ArmStats>

/** Both arms. */
export const RolloutStats = z.strictObject({ baseline: ArmStats, candidate: ArmStats })
export type RolloutStats = z.infer<typeof RolloutStats>

/** What `decide` does next. */
export const RolloutAction = z.enum(['hold', 'advance', 'rollback', 'promote', 'pause'])
export type RolloutAction = z.infer<typeof RolloutAction>

/** The optional body of a manual action: compare-and-set on the step the operator saw, and a note for the audit trail. */
export const RolloutActionBody = z.strictObject({
  /** Refuse (409) unless the rollout is still at this step: a CLI retry or a stale dashboard never acts twice. */
  expectStep: Count.optional(),
  reason: z.string().min(1).max(500).optional(),
})
export type RolloutActionBody = z.infer<typeof RolloutActionBody>

const Nullable = z.number().nullable()

/** One arm as the last evaluation saw it (the status view; per-device rows are never exposed). */
export const ArmView = z.object({
  version: Version,
  devices: Count,
  settledDevices: Count,
  inferences: Count,
  errors: Count,
  /** Mean of per-device error rates (the device is the unit); null without inferences. */
  errorRate: Nullable,
  fallbackRate: Nullable,
  latencyP95: Nullable,
  driftJsMax: Nullable,
  shadow: z.object({ compared: Count, agreed: Count }),
  feedback: z.object({ labeled: Count, correct: Count }),
  /** The worst input feature's data-quality problem rate; null without quality counts. Absent from older edges. */
  quality: z
    .object({ feature: z.string(), rate: z.number().min(0).max(1), rows: Count })
    .nullable()
    .optional(),
  /** Accuracy estimated from calibrated confidences, with its 95% interval; null without any. Absent from older edges. */
  estimatedAccuracy: EstimatedAccuracy.optional(),
})
export type ArmView = z.infer<typeof ArmView>

/** The last decision of the rollout's evaluation, with the statistics it rests on. */
export const RolloutDecisionView = z.object({
  at: EpochMs,
  step: Count,
  action: RolloutAction,
  reason: z.string(),
  /** `decide`'s evidence: guardrail verdicts with their sequential tests, the SRM check, step progress. */
  evidence: z.record(z.string(), z.unknown()),
  /** The ranges read: guardrails and minimums from `from`, the sample-ratio check from `settledFrom`. */
  window: z.object({ from: EpochMs, settledFrom: EpochMs, to: EpochMs }),
  arms: z.object({ baseline: ArmView, candidate: ArmView }),
})
export type RolloutDecisionView = z.infer<typeof RolloutDecisionView>

const Status = z.enum(['running', 'paused', 'rolled_back', 'promoted'])

/** One entry of a rollout's timeline; each is also an event in the audit trail (`eventId`). */
export const RolloutTransitionView = z.object({
  at: EpochMs,
  action: z.enum(['start', 'advance', 'rollback', 'promote', 'pause', 'resume']),
  reason: z.string(),
  actor: z.string(),
  from: z.object({ status: Status, step: Count }).nullable(),
  to: z.object({ status: Status, step: Count }),
  eventId: z.string(),
})
export type RolloutTransitionView = z.infer<typeof RolloutTransitionView>

/** `GET /v1/models/:model/rollouts/current | /:id`. */
export const RolloutView = z.object({
  id: z.string(),
  model: z.string(),
  /** The config as stored: defaults filled in, `baseline` resolved at start. */
  config: z.object({}).passthrough(),
  status: Status,
  step: Count,
  /** The candidate's share now (0 once rolled back, 100 once promoted). */
  percent: z.number().min(0).max(100),
  stepStartedAt: EpochMs,
  /** Why it is paused or ended (`srm`, `guardrail:latency_p95`, `manual`, …); null while running. */
  reason: z.string().nullable(),
  createdAt: EpochMs,
  createdBy: z.string(),
  updatedAt: EpochMs,
  nextEvaluationAt: EpochMs.nullable(),
  lastDecision: RolloutDecisionView.nullable(),
  transitions: z.array(RolloutTransitionView),
})
export type RolloutView = z.infer<typeof RolloutView>
