import * as z from 'zod'
import { Arm, Backend, Count, EpochMs, ModelName, Role, RolloutId } from './common.ts'
import { EstimatedAccuracy } from './calibrated.ts'
import { FeatureQuality } from './quality.ts'
import { HealthCounts } from './health.ts'
import { CohortSlices, FleetSlices, SliceGap } from './slices.ts'

/**
 * The fleet view, `GET /v1/models/:model/telemetry`: per version × role × rollout arm, totals and a
 * time series merged from every shard (see docs/telemetry.md). Statistics that cannot be computed
 * (an empty side, no reference profile) are `null`, never NaN. Cohorts and points with fewer than
 * `minDevices` distinct devices are suppressed: `{suppressed: true}` and no metrics at all. Counts
 * are what arrived; when devices sample, `estimated` scales them to the fleet.
 */
export const Granularity = z.enum(['minute', 'hour'])
export type Granularity = z.infer<typeof Granularity>

/** A proportion in [0, 1], or null when its denominator is 0. */
const Rate = z.number().min(0).max(1).nullable()
/** A statistic, or null where it is undefined (NaN). */
const Stat = z.number().nullable()

/** Drift of one feature or output against the version's reference profile (core/drift, binned). */
export const DriftSummary = z.object({
  /** Non-missing values counted, and missing ones. */
  n: Count,
  missing: Count,
  /** The current histogram, binned like the reference profile (so a reader can overlay the two). */
  counts: z.array(Count).optional(),
  psi: Stat,
  js: Stat,
  hellinger: Stat,
  ks: Stat,
  chi2: Stat,
  chi2_p: Stat,
  dof: z.number().int().nonnegative(),
  drifted: z.boolean(),
  /** `no_reference`: the version has no profile for this name, so nothing was compared. */
  reason: z.enum(['drifted', 'no_drift', 'insufficient_data', 'no_reference']),
})
export type DriftSummary = z.infer<typeof DriftSummary>

/**
 * Horvitz–Thompson estimates of the whole fleet when devices sample telemetry: every report weighs
 * 1/sampleRate of its batch, every distinct device 1/(the lowest rate it reported under). Floats;
 * null when every report arrived at rate 1 (the exact fields are then the totals).
 */
export const FleetEstimates = z
  .object({
    devices: z.number().nonnegative(),
    reports: z.number().nonnegative(),
    inferences: z.number().nonnegative(),
    errors: z.number().nonnegative(),
  })
  .nullable()
export type FleetEstimates = z.infer<typeof FleetEstimates>

const LatencyQuantiles = z.object({ p50: z.number(), p95: z.number(), p99: z.number() }).nullable()
const LoadQuantiles = z.object({ p50: z.number(), p95: z.number() }).nullable()

/** Everything known about one cohort over a range. */
export const CohortMetrics = z.object({
  suppressed: z.literal(false),
  /** Distinct devices: exact up to 1024 per shard and range, else HyperLogLog (`devicesRelativeError` ≈ 0.016). */
  devices: Count,
  devicesRelativeError: z.number().nonnegative(),
  /** Reports (device-windows) merged. */
  reports: Count,
  inferences: Count,
  errors: Count,
  errorRate: Rate,
  /** What the counts above scale to when devices sample (see `FleetEstimates`); null when nothing was sampled. */
  estimated: FleetEstimates,
  /** The lowest `sampleRate` of a batch counted here: 1 when nothing was sampled. */
  minSampleRate: z.number().gt(0).max(1),
  /** Inference latency in ms from the merged DDSketch (relative accuracy 1%); null without inferences. */
  latencyMs: LatencyQuantiles,
  loadMs: LoadQuantiles,
  loads: Count,
  cacheHits: Count,
  /** cacheHits / loads: the share of model loads served from the device cache. */
  cacheHitRate: Rate,
  /** Inferences per backend that ran them, and their share of all inferences. */
  backends: z.partialRecord(Backend, z.object({ inferences: Count, share: z.number().min(0).max(1) })),
  /** Distinct devices per `backend:reason` of a backend that fell back. */
  fallbacks: z.record(z.string(), Count),
  features: z.record(z.string(), DriftSummary),
  outputs: z.record(z.string(), DriftSummary),
  /** Names whose verdict is `drifted`, and the largest JS distance seen. */
  drift: z.object({ features: z.array(z.string()), outputs: z.array(z.string()), maxJs: Stat }),
  shadow: z.object({ compared: Count, agreed: Count, agreement: Rate, meanAbsDiff: Stat }).nullable(),
  feedback: z.object({ labeled: Count, correct: Count, accuracy: Rate }).nullable(),
  /**
   * Accuracy estimated without labels from calibrated confidences, with its 95% interval
   * (docs/telemetry.md, "Estimated accuracy"); null when the version has no calibration map or no
   * prediction was looked up in it. Optional: absent from older edges.
   */
  estimatedAccuracy: EstimatedAccuracy.optional(),
  /**
   * Data quality per input feature (`rate` = values with a problem / rows) and the worst feature;
   * absent when no report carried data-quality counts (docs/telemetry.md, "Data quality per feature").
   */
  quality: z
    .object({
      features: z.record(z.string(), FeatureQuality.and(z.object({ rate: z.number().min(0).max(1) }))),
      worst: z.object({ feature: z.string(), rate: z.number().min(0).max(1) }).nullable(),
    })
    .optional(),
  /**
   * Device health (docs/device-health.md): the counts, `crashes` (their sum), `sessions` (loads +
   * loadAbandoned) and `crashRate` = crashes / sessions (read as 1 above 1; null without sessions).
   * Absent when no report counted a health event.
   */
  health: HealthCounts.extend({ crashes: Count, sessions: Count, crashRate: Rate }).optional(),
  /**
   * Devices weighed down to the cap in the rates, quantiles and estimates above: no device counts
   * more than 4 × the cohort's median device (docs/telemetry.md, "Per-device caps"). Counts are as received.
   */
  cappedDevices: Count.optional(),
  /** The weight (inferences + errors + loads + labels) above which a device was capped; null without devices. */
  deviceCap: z.number().nonnegative().nullable().optional(),
})
export type CohortMetrics = z.infer<typeof CohortMetrics>

/** A cohort or point hidden because fewer than `minDevices` distinct devices contributed (k-anonymity). */
export const Suppressed = z.object({
  suppressed: z.literal(true),
  reason: z.literal('fewer_than_min_devices'),
  minDevices: Count,
})
export type Suppressed = z.infer<typeof Suppressed>

/** One point of a cohort's time series (no per-feature drift: ask for the point's range instead). */
export const SeriesPoint = z.discriminatedUnion('suppressed', [
  z.object({ start: EpochMs, end: EpochMs, suppressed: z.literal(true) }),
  CohortMetrics.pick({
    suppressed: true,
    devices: true,
    devicesRelativeError: true,
    reports: true,
    inferences: true,
    errors: true,
    errorRate: true,
    estimated: true,
    minSampleRate: true,
    latencyMs: true,
    loadMs: true,
    cacheHitRate: true,
  }).extend({
    start: EpochMs,
    end: EpochMs,
    shadowAgreement: Rate,
    accuracy: Rate,
    estimatedAccuracy: EstimatedAccuracy.optional(),
  }),
])
export type SeriesPoint = z.infer<typeof SeriesPoint>

/** One version × role × rollout arm. */
export const FleetCohort = z.object({
  version: z.number().int().positive(),
  role: Role,
  rollout: z.object({ id: RolloutId, arm: Arm }).nullable(),
  total: z.discriminatedUnion('suppressed', [CohortMetrics, Suppressed]),
  series: z.array(SeriesPoint),
})
export type FleetCohort = z.infer<typeof FleetCohort>

/** The response of `GET /v1/models/:model/telemetry`. */
export const FleetView = z.object({
  model: ModelName,
  /** The range read, aligned to the granularity: [from, to). */
  from: EpochMs,
  to: EpochMs,
  /** Series step; with `minute`, data older than the rollup age comes as hour-wide points. */
  granularity: Granularity,
  minDevices: Count,
  generatedAt: EpochMs,
  cohorts: z.array(FleetCohort),
  /**
   * Stored cells and uncompacted batches left out of this view because they could not be read or
   * merged (stored before telemetry/1's bounds, or damaged); 0 normally. Absent from older edges.
   */
  skipped: Count.optional(),
  /** Telemetry of this model refused in the range, per reason (`too_old`, `inferences_over_window`, …). */
  refused: z.record(z.string(), Count).optional(),
  /**
   * Reports devices dropped before sending, per reason (`queue_overflow`, `too_old`, `rejected`,
   * `shadow_overflow`), as their batches received in the range declare them (telemetry/1 `dropped`);
   * a batch carrying several models counts them under its first model by name. Absent from older edges.
   */
  deviceDropped: z.record(z.string(), Count).optional(),
  /** With `?slice=`: every cohort's metrics per slice value (docs/telemetry.md, "Slices"). */
  slices: FleetSlices.optional(),
  /** With `?slice=`: the largest gap between unsuppressed slices of any cohort, and that cohort; null when none. */
  sliceGap: SliceGap.extend(CohortSlices.pick({ version: true, role: true, rollout: true }).shape)
    .nullable()
    .optional(),
})
export type FleetView = z.infer<typeof FleetView>

/**
 * `GET /v1/telemetry/refusals`: telemetry the edge refused over a range, per model (null: the batch
 * named no model that exists) and reason (an error code such as `too_old`, `rate_limited_device`, or
 * the telemetry/1 bound broken, such as `inferences_over_window`).
 */
export const TelemetryRefusals = z.object({
  from: EpochMs,
  to: EpochMs,
  refusals: z.array(z.object({ model: ModelName.nullable(), reason: z.string(), count: Count })),
})
export type TelemetryRefusals = z.infer<typeof TelemetryRefusals>
