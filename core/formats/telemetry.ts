import * as z from 'zod'
import { Arm, Backend, Count, EpochMs, ModelName, Role, RolloutId } from './common.ts'
import { FeatureKey } from './profile.ts'
import { SketchJson } from './sketch.ts'
import { MAX_WINDOW_MS, TELEMETRY_VERSION, WINDOW_MS } from './telemetry-window.ts'

/**
 * `telemetry/1`: what devices send. A batch is frozen when created (a retry resends the same bytes)
 * and deduplicated at the edge on `(batchId, model)`. Only counts, sketches and histograms on the
 * reference profile's bins ever leave a device: no raw input, output or free text.
 */
export { MAX_WINDOW_MS, TELEMETRY_VERSION, WINDOW_MS } from './telemetry-window.ts'

const Reason = z.string().regex(/^[a-z0-9_]{1,64}$/, 'a reason code of [a-z0-9_]')

/** Counts on a feature's profile bins plus its missing count. */
export const BinnedCounts = z.strictObject({ counts: z.array(Count).max(1001), missing: Count })
export type BinnedCounts = z.infer<typeof BinnedCounts>

export const DeviceCaps = z.strictObject({
  webgpu: z.boolean(),
  f16: z.boolean().optional(),
  deviceMemory: z.number().positive().max(1024).optional(),
  cores: z.number().int().positive().max(1024).optional(),
  platform: z
    .string()
    .regex(/^[a-z0-9_-]{1,32}$/)
    .optional(),
})
export type DeviceCaps = z.infer<typeof DeviceCaps>

const UtcWindow = z
  .strictObject({ start: EpochMs, end: EpochMs })
  .refine((w) => w.start % WINDOW_MS === 0 && w.end % WINDOW_MS === 0, 'window bounds must be aligned to UTC minutes')
  .refine((w) => w.end > w.start && w.end - w.start <= MAX_WINDOW_MS, 'a window spans 1 to 60 minutes')

/** What one device reports about one model version and role over one window. */
export const Report = z.strictObject({
  model: ModelName,
  version: z.number().int().positive(),
  role: Role,
  rollout: z.strictObject({ id: RolloutId, arm: Arm }).optional(),
  window: UtcWindow,
  backend: Backend,
  fallbacks: z.partialRecord(Backend, Reason).default({}),
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
  }),
  sampleRate: z.number().gt(0).lte(1),
  dropped: z.record(Reason, Count).default({}),
  dp: z.strictObject({ epsilon: z.number().positive().max(100) }).optional(),
  reports: z.array(Report).max(256),
})
export type Batch = z.infer<typeof Batch>
