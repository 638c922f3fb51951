import * as z from 'zod'
import { Backend } from '../formats/common.ts'
import { CalibratedSums } from '../formats/calibrated.ts'
import { FeatureQuality } from '../formats/quality.ts'
import { HealthCounts } from '../formats/health.ts'
import { SketchJson } from '../formats/sketch.ts'
import {
  MAX_DURATION_MS,
  MAX_INFERENCES_PER_MINUTE,
  MAX_LOADS_PER_MINUTE,
  MAX_MEAN_ABS_DIFF,
  MAX_WINDOW_MS,
  WINDOW_MS,
} from '../formats/telemetry.ts'

/**
 * The stored form of an aggregate (`AggregateJson`, core/telemetry/aggregate.ts), checked before it is
 * merged: the shape, and the relations every sum of reports within telemetry/1's bounds keeps (at
 * most one latency per inference and one load time per load, cache hits ≤ loads, agreed ≤ compared ≤
 * inferences, correct ≤ labeled, per report at most a window's worth of inferences, labels, loads and
 * histogram values, durations ≤ 7 days, calibrated confidences ≤ inferences). A cell that breaks one was stored from reports the bounds
 * now refuse (or was damaged): reads leave it out and jobs quarantine it instead of failing on it.
 * Errors are not held to inferences here: cells stored before that bound may hold an older SDK's
 * failed predictions, which it counted as errors and not as inferences.
 */
const Count = z.int().nonnegative()
const Histogram = z.strictObject({ counts: z.array(Count).max(1001), missing: Count })
const RatePart = z.strictObject({ reports: Count, inferences: Count, errors: Count, devices: z.unknown() })

/** Most window minutes one report can stand for: the per-report bounds are per minute of its window. */
const WINDOW_MINUTES = MAX_WINDOW_MS / WINDOW_MS

/** Schema of a stored aggregate, with its invariants. */
export const StoredAggregate = z
  .strictObject({
    v: z.literal(1),
    reports: Count,
    devices: z.unknown(),
    counts: z.strictObject({ inferences: Count, errors: Count, cacheHits: Count, loads: Count }),
    latency: SketchJson,
    loadMs: SketchJson,
    backends: z.partialRecord(Backend, Count),
    fallbacks: z.record(z.string(), z.unknown()),
    features: z.record(z.string(), Histogram),
    outputs: z.record(z.string(), Histogram),
    shadow: z.strictObject({ compared: Count, agreed: Count, absDiffSum: z.number().nonnegative() }),
    feedback: z.strictObject({ labeled: Count, correct: Count }),
    quality: z.record(z.string(), FeatureQuality).optional(),
    calibrated: CalibratedSums.optional(),
    health: HealthCounts.optional(),
    sampled: z.record(z.string(), RatePart).optional(),
  })
  .superRefine((a, ctx) => {
    const fail = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message })
    const { inferences, errors, cacheHits, loads } = a.counts
    const perReport = a.reports * WINDOW_MINUTES
    const valueCap = perReport * MAX_INFERENCES_PER_MINUTE
    if (inferences > valueCap) fail(['counts', 'inferences'], 'more inferences than its reports can hold')
    if (loads > perReport * MAX_LOADS_PER_MINUTE) fail(['counts', 'loads'], 'more loads than its reports can hold')
    if (cacheHits > loads) fail(['counts', 'cacheHits'], 'more cache hits than loads')
    if (a.latency.n > inferences) fail(['latency', 'n'], 'more latencies than inferences')
    if (a.loadMs.n > loads) fail(['loadMs', 'n'], 'more load times than loads')
    for (const key of ['latency', 'loadMs'] as const)
      if ((a[key].max ?? 0) > MAX_DURATION_MS) fail([key, 'max'], 'a duration beyond 7 days')
    let byBackend = 0
    for (const n of Object.values(a.backends)) byBackend += n ?? 0
    if (byBackend > inferences) fail(['backends'], 'more inferences per backend than inferences')
    if (a.shadow.agreed > a.shadow.compared) fail(['shadow', 'agreed'], 'more agreements than comparisons')
    if (a.shadow.compared > inferences) fail(['shadow', 'compared'], 'more comparisons than inferences')
    if (a.shadow.absDiffSum > a.shadow.compared * MAX_MEAN_ABS_DIFF)
      fail(['shadow', 'absDiffSum'], 'a mean difference beyond its bound')
    if (a.feedback.correct > a.feedback.labeled) fail(['feedback', 'correct'], 'more correct than labeled')
    if (a.feedback.labeled > valueCap) fail(['feedback', 'labeled'], 'more labels than its reports can hold')
    for (const side of ['features', 'outputs'] as const)
      for (const [name, h] of Object.entries(a[side])) {
        let total = h.missing
        for (const c of h.counts) total += c
        if (total > valueCap) fail([side, name], 'more histogram values than its reports can hold')
      }
    for (const [name, q] of Object.entries(a.quality ?? {}))
      if (q.rows > valueCap) fail(['quality', name, 'rows'], 'more rows than its reports can hold')
    if (a.calibrated && a.calibrated.count > inferences)
      fail(['calibrated', 'count'], 'more calibrated confidences than inferences')
    for (const [kind, n] of Object.entries(a.health ?? {}))
      if (n > perReport * MAX_LOADS_PER_MINUTE) fail(['health', kind], 'more health events than its reports can hold')
    for (const [rate, p] of Object.entries(a.sampled ?? {}))
      if (p.reports > a.reports || p.inferences > inferences || p.errors > errors)
        fail(['sampled', rate], 'more under one rate than in total')
  })
