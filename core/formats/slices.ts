/**
 * @module
 * Slices (docs/telemetry.md, "Slices"): coarse, non-identifying keys a report is grouped by besides
 * its cohort, the lean per-slice aggregate shards keep, and what `GET /v1/models/:model/telemetry?slice=`
 * adds to the fleet view.
 */
import * as z from 'zod'
import { Arm, Count, Role, RolloutId } from './common.ts'
import { SketchJson } from './sketch.ts'
import { HealthCounts } from './health.ts'

/**
 * The dimensions a fleet read can slice by: the report's `backend`, the device's `platform` family,
 * `browser` family, `memory` bucket, and `cohort`, a label an app will be able to send from an
 * allow-list its model declares (no batch carries one yet, so that dimension has no values), and the
 * report's `variant` (docs/variants.md; `unknown` for a version without variants).
 */
export const SliceDimension = z.enum(['backend', 'platform', 'browser', 'memory', 'cohort', 'variant'])
export type SliceDimension = z.infer<typeof SliceDimension>

/** Browser families a device reports (`DeviceCaps.browser`): the engine, never a version. */
export const BrowserFamily = z.enum(['chromium', 'firefox', 'safari', 'other'])
export type BrowserFamily = z.infer<typeof BrowserFamily>

/** The stored form of a slice's aggregate (core/telemetry/slice-aggregate.ts). */
export const SliceAggregateJson = z.strictObject({
  devices: z.union([z.strictObject({ exact: z.array(Count) }), z.strictObject({ hll: z.string() })]),
  reports: Count,
  inferences: Count,
  errors: Count,
  labeled: Count,
  correct: Count,
  latency: SketchJson,
  /** Loads and device health counts (docs/device-health.md); absent when none were counted. */
  loads: Count.optional(),
  health: HealthCounts.optional(),
})
export type SliceAggregateJson = z.infer<typeof SliceAggregateJson>

/** A slice's metrics in the fleet view (counts as received; no per-device caps or sampling estimates). */
export const SliceMetrics = z.object({
  suppressed: z.literal(false),
  devices: Count,
  reports: Count,
  inferences: Count,
  errors: Count,
  /** errors / inferences; null without inferences. */
  errorRate: z.number().min(0).nullable(),
  latencyMs: z.object({ p50: z.number(), p95: z.number(), p99: z.number() }).nullable(),
  /** Null where no label arrived. */
  feedback: z.object({ labeled: Count, correct: Count, accuracy: z.number().min(0).max(1) }).nullable(),
  /** Device health as in the cohort's metrics (`CohortMetrics.health`); absent when no event was counted. */
  health: HealthCounts.extend({
    crashes: Count,
    sessions: Count,
    crashRate: z.number().min(0).max(1).nullable(),
  }).optional(),
})
export type SliceMetrics = z.infer<typeof SliceMetrics>

/** A slice seen on fewer than `minDevices` distinct devices: hidden whole (k-anonymity, as cohorts). */
export const SuppressedSlice = z.object({
  suppressed: z.literal(true),
  reason: z.literal('fewer_than_min_devices'),
  minDevices: Count,
})

/** The largest gap between two unsuppressed slices of one metric (`accuracy`: worst is the lowest). */
export const SliceGap = z.object({
  dimension: SliceDimension,
  metric: z.enum(['error_rate', 'accuracy']),
  worst: z.object({ slice: z.string(), value: z.number() }),
  best: z.object({ slice: z.string(), value: z.number() }),
  /** |worst − best|, ≥ 0. */
  gap: z.number().nonnegative(),
})
export type SliceGap = z.infer<typeof SliceGap>

/** One cohort's slices. */
export const CohortSlices = z.object({
  version: z.number().int().positive(),
  role: Role,
  rollout: z.object({ id: RolloutId, arm: Arm }).nullable(),
  slices: z.record(z.string(), z.discriminatedUnion('suppressed', [SliceMetrics, SuppressedSlice])),
  /** The cohort's largest gap over error rate and accuracy; null with fewer than two comparable slices. */
  gap: SliceGap.nullable(),
})
export type CohortSlices = z.infer<typeof CohortSlices>

/** What `?slice=` adds to the fleet view. */
export const FleetSlices = z.object({
  dimension: SliceDimension,
  cohorts: z.array(CohortSlices),
})
export type FleetSlices = z.infer<typeof FleetSlices>

/** One slice of one rollout arm, as the `slice_gap` guardrail reads it. */
export const SliceCounts = z.strictObject({
  devices: Count,
  inferences: Count,
  errors: Count,
  labeled: Count,
  correct: Count,
})
export type SliceCounts = z.infer<typeof SliceCounts>
