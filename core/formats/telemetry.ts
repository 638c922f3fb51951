import * as z from 'zod'
import { ERROR_STATUS } from '../errors.ts'
import { Arm, Backend, Count, EpochMs, ModelName, Role, RolloutId } from './common.ts'
import { FeatureKey } from './profile.ts'
import { CalibratedSums } from './calibrated.ts'
import { FeatureQuality } from './quality.ts'
import { HealthCounts } from './health.ts'
import { BrowserFamily } from './slices.ts'
import { SketchJson } from './sketch.ts'
import { VariantName } from './variants.ts'
import { MAX_WINDOW_MS, TELEMETRY_VERSION, WINDOW_MS } from './telemetry-window.ts'
import { COHORT_LABEL_PATTERN } from '../cohort-label.ts'

/**
 * `telemetry/1`: what devices send. A batch is frozen when created (a retry resends the same bytes)
 * and deduplicated at the edge on `(batchId, model)`. Only counts, sketches and histograms on the
 * reference profile's bins ever leave a device: no raw input, output or free text.
 */
export { MAX_WINDOW_MS, TELEMETRY_VERSION, WINDOW_MS } from './telemetry-window.ts'

/**
 * What one device can have done in one minute of a report's window; a report holds at most this times
 * its window's minutes (docs/telemetry.md, "Bounds"). Far above what a browser sustains (≈ 16,700
 * inferences a second), and low enough that no sum the edge keeps can leave the exact integers.
 */
export const MAX_INFERENCES_PER_MINUTE = 1_000_000
/** Model loads (and so load times and cache hits) one device can report per minute of a window. */
export const MAX_LOADS_PER_MINUTE = 600
/** The longest latency or load time a sketch may hold, in ms (7 days: longer is a clock, not a model). */
export const MAX_DURATION_MS = 7 * 24 * 3_600_000
/** The largest mean absolute difference a shadow comparison may report. */
export const MAX_MEAN_ABS_DIFF = 1e12
/** The lowest `sampleRate` a batch may carry: one report then stands for 1000 in fleet estimates. */
export const MIN_SAMPLE_RATE = 0.001

/**
 * True for a sample rate on the grid k / 1000 (k = 1 … 1000). Aggregates keep one entry per distinct
 * rate (core/telemetry/sampling.ts), so the grid bounds how many a cell can hold whatever devices send.
 */
export function isSampleRate(x: number): boolean {
  const k = x * 1000
  return x >= MIN_SAMPLE_RATE && x <= 1 && Math.abs(k - Math.round(k)) < 1e-9
}

/**
 * Fallback reasons the fleet view keeps apart: the SDK's backend skip reasons and the error codes a
 * failed load reports. Any other (well-formed) reason counts as `other`, so the reasons a cell holds
 * stay few whatever devices send.
 */
export const FALLBACK_REASONS: ReadonlySet<string> = new Set([
  'not_available',
  'fallback_adapter',
  'webgpu_mismatch',
  'webnn_mismatch',
  'missing_runtime',
  'unsupported',
  'init_failed',
  'create_failed',
  'device_lost',
  ...Object.keys(ERROR_STATUS),
])

/**
 * Why a report or batch is refused beyond its shape: the `reason` of the zod issue (`params.reason`),
 * which the edge counts per refusal.
 */
export type BoundReason =
  | 'inferences_over_window'
  | 'errors_over_attempts'
  | 'loads_over_window'
  | 'cache_hits_over_loads'
  | 'latency_over_inferences'
  | 'load_times_over_loads'
  | 'duration_out_of_range'
  | 'labeled_over_window'
  | 'compared_over_inferences'
  | 'mean_abs_diff_out_of_range'
  | 'histogram_over_window'
  | 'sample_rate_below_floor'
  | 'sample_rate_off_grid'
  | 'sketch_inconsistent'
  | 'quality_over_window'
  | 'calibrated_over_inferences'
  | 'health_over_window'

const Reason = z.string().regex(/^[a-z0-9_]{1,64}$/, 'a reason code of [a-z0-9_]')

/** Counts on a feature's profile bins plus its missing count. */
export const BinnedCounts = z.strictObject({ counts: z.array(Count).max(1001), missing: Count })
export type BinnedCounts = z.infer<typeof BinnedCounts>

export const DeviceCaps = z.strictObject({
  webgpu: z.boolean(),
  f16: z.boolean().optional(),
  /** `navigator.ml` (WebNN) is exposed; a device that does not say has none. */
  webnn: z.boolean().optional(),
  deviceMemory: z.number().positive().max(1024).optional(),
  cores: z.number().int().positive().max(1024).optional(),
  platform: z
    .string()
    .regex(/^[a-z0-9_-]{1,32}$/)
    .optional(),
  /** The browser's engine family, a slice key (docs/telemetry.md, "Slices"). */
  browser: BrowserFamily.optional(),
})
export type DeviceCaps = z.infer<typeof DeviceCaps>

const UtcWindow = z
  .strictObject({ start: EpochMs, end: EpochMs })
  .refine((w) => w.start % WINDOW_MS === 0 && w.end % WINDOW_MS === 0, 'window bounds must be aligned to UTC minutes')
  .refine((w) => w.end > w.start && w.end - w.start <= MAX_WINDOW_MS, 'a window spans 1 to 60 minutes')

/** What one device reports about one model version and role over one window. */
const ReportShape = z.strictObject({
  model: ModelName,
  version: z.number().int().positive(),
  role: Role,
  rollout: z.strictObject({ id: RolloutId, arm: Arm }).optional(),
  window: UtcWindow,
  backend: Backend,
  fallbacks: z.partialRecord(Backend, Reason).default({}),
  /** The version's variant the device runs (docs/variants.md); the edge accepts only the version's own. */
  variant: VariantName.optional(),
  counts: z.strictObject({ inferences: Count, errors: Count, cacheHits: Count, loads: Count }),
  loadMs: SketchJson,
  latency: SketchJson,
  // Keyed by the version profile's names, so any name a profile can hold can be reported; the edge
  // must accept only names of that profile, which keeps free text off the wire.
  features: z.record(FeatureKey, BinnedCounts).default({}),
  outputs: z.record(FeatureKey, BinnedCounts).default({}),
  shadow: z
    .strictObject({ compared: Count, agreed: Count, meanAbsDiff: z.number().nonnegative() })
    .refine((s) => s.agreed <= s.compared, { message: 'agreed must not exceed compared', path: ['agreed'] })
    .optional(),
  feedback: z
    .strictObject({ labeled: Count, correct: Count })
    .refine((f) => f.correct <= f.labeled, { message: 'correct must not exceed labeled', path: ['correct'] })
    .optional(),
  // Data-quality counts per input feature, keyed like `features` (docs/telemetry.md, "Data quality").
  quality: z.record(FeatureKey, FeatureQuality).optional(),
  // Calibrated-confidence sums of a classifier with a calibration map (docs/telemetry.md, "Estimated accuracy").
  calibrated: CalibratedSums.optional(),
  // Device health counts (docs/device-health.md); absent when nothing happened.
  health: HealthCounts.optional(),
})

/**
 * A report, held to what one device can have seen in its window (W minutes): at most
 * MAX_INFERENCES_PER_MINUTE·W inferences, labels and values per histogram, MAX_LOADS_PER_MINUTE·W
 * loads; errors ≤ inferences + loads (a failed prediction counts as an inference and an error, a
 * failed load as a load and an error); cache hits ≤ loads; at most one latency per inference and one
 * load time per load, each ≤ MAX_DURATION_MS; shadow comparisons ≤ inferences; labels may exceed
 * this report's inferences (feedback arriving after its prediction's report was sent comes alone);
 * calibrated confidences ≤ inferences; each health count ≤ MAX_LOADS_PER_MINUTE·W (a crash ends a
 * session, and a session starts with a load).
 */
export const Report = ReportShape.superRefine((r, ctx) => {
  const fail = (path: PropertyKey[], reason: BoundReason, message: string) =>
    ctx.addIssue({ code: 'custom', path, message, params: { reason } })
  const minutes = Math.max(1, Math.round((r.window.end - r.window.start) / WINDOW_MS))
  const cap = MAX_INFERENCES_PER_MINUTE * minutes
  const { inferences, errors, loads, cacheHits } = r.counts
  if (inferences > cap)
    fail(['counts', 'inferences'], 'inferences_over_window', `at most ${cap} inferences in a ${minutes}-minute window`)
  if (loads > MAX_LOADS_PER_MINUTE * minutes)
    fail(['counts', 'loads'], 'loads_over_window', `at most ${MAX_LOADS_PER_MINUTE * minutes} loads in the window`)
  if (errors > inferences + loads)
    fail(['counts', 'errors'], 'errors_over_attempts', 'errors must not exceed inferences + loads')
  if (cacheHits > loads) fail(['counts', 'cacheHits'], 'cache_hits_over_loads', 'cacheHits must not exceed loads')
  if (r.latency.n > inferences) fail(['latency', 'n'], 'latency_over_inferences', 'at most one latency per inference')
  if (r.loadMs.n > loads) fail(['loadMs', 'n'], 'load_times_over_loads', 'at most one load time per load')
  for (const key of ['latency', 'loadMs'] as const) {
    const max = r[key].max
    if (max !== undefined && max > MAX_DURATION_MS)
      fail([key, 'max'], 'duration_out_of_range', `durations are at most ${MAX_DURATION_MS} ms`)
  }
  if (r.feedback && r.feedback.labeled > cap)
    fail(['feedback', 'labeled'], 'labeled_over_window', `at most ${cap} labels in the window`)
  if (r.shadow && r.shadow.compared > inferences)
    fail(['shadow', 'compared'], 'compared_over_inferences', 'compared must not exceed inferences')
  if (r.shadow && r.shadow.meanAbsDiff > MAX_MEAN_ABS_DIFF)
    fail(['shadow', 'meanAbsDiff'], 'mean_abs_diff_out_of_range', `meanAbsDiff is at most ${MAX_MEAN_ABS_DIFF}`)
  if (r.calibrated && r.calibrated.count > inferences)
    fail(['calibrated', 'count'], 'calibrated_over_inferences', 'calibrated count must not exceed inferences')
  for (const [kind, n] of Object.entries(r.health ?? {}))
    if (n > MAX_LOADS_PER_MINUTE * minutes)
      fail(
        ['health', kind],
        'health_over_window',
        `at most ${MAX_LOADS_PER_MINUTE * minutes} health events in the window`,
      )
  for (const [name, q] of Object.entries(r.quality ?? {}))
    if (q.rows > cap)
      fail(['quality', name, 'rows'], 'quality_over_window', `data quality covers at most ${cap} rows in the window`)
  for (const side of ['features', 'outputs'] as const) {
    for (const [name, h] of Object.entries(r[side])) {
      let total = h.missing
      for (const c of h.counts) total += c
      if (total > cap)
        fail([side, name], 'histogram_over_window', `a histogram holds at most ${cap} values in the window`)
    }
  }
})
export type Report = z.infer<typeof Report>

/** A batch of reports from one device, as POSTed to `/v1/telemetry`. */
export const Batch = z.strictObject({
  v: z.literal(TELEMETRY_VERSION),
  batchId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  sentAt: EpochMs,
  device: z.strictObject({
    id: z.string().regex(/^[A-Za-z0-9_-]{8,128}$/, 'a pseudonymous device id'),
    caps: DeviceCaps,
    sdk: z.string().regex(/^[A-Za-z0-9_.+-]{1,32}$/),
    app: z
      .string()
      .regex(/^[A-Za-z0-9_.+-]{1,64}$/)
      .optional(),
    /**
     * The app's cohort label (`createFleet({cohort})`), for the `cohort` slice. The edge keeps it for a
     * model only when the label is in that model's allow-list; any other label counts as none.
     */
    cohort: z.string().regex(COHORT_LABEL_PATTERN, 'a cohort label of 1 to 64 [A-Za-z0-9_.:-]').optional(),
  }),
  sampleRate: z
    .number()
    .lte(1)
    .refine((x) => x >= MIN_SAMPLE_RATE, {
      message: `sampleRate is at least ${MIN_SAMPLE_RATE}`,
      params: { reason: 'sample_rate_below_floor' },
    })
    .refine(isSampleRate, { message: 'sampleRate is a multiple of 0.001', params: { reason: 'sample_rate_off_grid' } }),
  dropped: z.record(Reason, Count).default({}),
  dp: z.strictObject({ epsilon: z.number().positive().max(100) }).optional(),
  reports: z.array(Report).max(256),
})
export type Batch = z.infer<typeof Batch>
