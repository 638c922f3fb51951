/**
 * @module Service-level objectives of a model, `PUT /v1/models/:model/slo`, and the views read back
 * (`GET …/slo`, `GET …/slo/status`). Each objective names a service-level indicator computed from the
 * fleet's telemetry (production version, role `primary`, every backend and rollout arm) as good
 * events / all events, and a `target` share of good events over a rolling compliance `period`:
 *
 * - `latency`: inferences answered within `thresholdMs`; `percentile` 95 or 99 sets the target (0.95
 *   or 0.99), so "p99 under 50 ms" reads `{"kind": "latency", "percentile": 99, "thresholdMs": 50}`.
 * - `load_time`: model loads finished within `thresholdMs`, the target set by `percentile` likewise.
 * - `error_rate`: inferences without an error; `target` 0.999 allows an error rate of 0.1 %.
 * - `fallback_rate`: devices whose loads ran on their first-choice backend (no fallback reported);
 *   `target` 0.99 allows 1 % of devices to fall back.
 *
 * Alerting follows the multi-window, multi-burn-rate alerts of the SRE workbook (core/slo/burn-rate.ts,
 * docs/slo.md).
 *
 * ```json
 * {"objectives": [{"name": "fast-answers", "kind": "latency", "percentile": 99, "thresholdMs": 50},
 *                 {"name": "no-errors", "kind": "error_rate", "target": 0.999}],
 *  "period": "28d", "webhook": {"url": "https://oncall.example.com/hooks/edgefleet", "secret": "…"}}
 * ```
 */
import * as z from 'zod'
import { Count, EpochMs, ModelName } from './common.ts'

/** An objective's name: a slug, unique within the model's SLOs (events and status name it). */
export const ObjectiveName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a slug of [a-z0-9_-], 1 to 64 characters')

/** A target share of good events: at least 0.5, below 1 (a target of 1 leaves no error budget). */
const Target = z.number().min(0.5).max(0.99999)
/** The percentile a latency or load-time objective holds: 95 or 99 (its target 0.95 or 0.99). */
const Percentile = z.union([z.literal(95), z.literal(99)], { error: 'percentile must be 95 or 99' })

const LatencyObjective = z.strictObject({
  name: ObjectiveName,
  kind: z.literal('latency'),
  percentile: Percentile,
  thresholdMs: z.number().gt(0).max(60_000),
})
const LoadTimeObjective = z.strictObject({
  name: ObjectiveName,
  kind: z.literal('load_time'),
  percentile: Percentile,
  thresholdMs: z.number().gt(0).max(600_000),
})
const ErrorRateObjective = z.strictObject({ name: ObjectiveName, kind: z.literal('error_rate'), target: Target })
const FallbackRateObjective = z.strictObject({
  name: ObjectiveName,
  kind: z.literal('fallback_rate'),
  target: Target,
})

/** One objective. */
export const Objective = z.discriminatedUnion('kind', [
  LatencyObjective,
  LoadTimeObjective,
  ErrorRateObjective,
  FallbackRateObjective,
])
export type Objective = z.infer<typeof Objective>

/** The kinds of objective. */
export const ObjectiveKind = z.enum(['latency', 'load_time', 'error_rate', 'fallback_rate'])
export type ObjectiveKind = z.infer<typeof ObjectiveKind>

/** A compliance period: `<days>d`, 1 to 90 days. */
export const CompliancePeriod = z
  .string()
  .regex(/^[1-9][0-9]?d$/, 'a number of days written like "28d"')
  .refine((p) => Number(p.slice(0, -1)) <= 90, 'at most 90 days')

const Webhook = z.strictObject({
  url: z.url({ protocol: /^https?$/, hostname: z.regexes.hostname }).max(2048),
  /** HMAC-SHA256 key for `X-Edgefleet-Signature`; write-only (never returned). */
  secret: z.string().min(16).max(256),
})

/** The body of `PUT /v1/models/:model/slo`. */
export const SloConfig = z
  .strictObject({
    objectives: z.array(Objective).min(1).max(16),
    period: CompliancePeriod.default('28d'),
    enabled: z.boolean().default(true),
    /** Where `slo.breached` / `slo.recovered` are POSTed, signed; without it they are only recorded. */
    webhook: Webhook.optional(),
  })
  .superRefine((slo, ctx) => {
    const seen = new Set<string>()
    slo.objectives.forEach((o, i) => {
      if (seen.has(o.name))
        ctx.addIssue({
          code: 'custom',
          message: `objective name "${o.name}" is used twice`,
          path: ['objectives', i, 'name'],
        })
      seen.add(o.name)
    })
  })
export type SloConfig = z.infer<typeof SloConfig>
export type SloConfigInput = z.input<typeof SloConfig>

/** The state of an objective: within budget, or breached by the fast (page) or slow (ticket) burn pair. */
export const SloState = z.enum(['ok', 'breached-fast', 'breached-slow'])
export type SloState = z.infer<typeof SloState>

/** One alerting window of an objective at an evaluation. */
export const WindowBurn = z.object({
  /** `5m`, `30m`, `1h`, `6h`. */
  window: z.string(),
  start: EpochMs,
  end: EpochMs,
  /** Fewer than the k-anonymity threshold of devices reported: nothing is shown, and the window never holds. */
  suppressed: z.boolean(),
  /** Bad and all events (floats: devices over the per-device cap count a share; docs/telemetry.md). */
  bad: z.number().nonnegative(),
  total: z.number().nonnegative(),
  /** Distinct devices seen in the window (0 when suppressed). */
  devices: Count,
  /** bad / total / (1 − target); null without events or below the k-anonymity threshold. */
  burnRate: z.number().nonnegative().nullable(),
})
export type WindowBurn = z.infer<typeof WindowBurn>

/** The status of one objective. */
export const ObjectiveStatus = z.object({
  name: ObjectiveName,
  kind: ObjectiveKind,
  target: z.number(),
  state: SloState,
  /** When the objective entered its state (null before the first evaluation that changed it). */
  since: EpochMs.nullable(),
  windows: z.array(WindowBurn),
  budget: z.object({
    /** The period read: [from, to); `from` is later than `to − period` when telemetry is not kept that long. */
    from: EpochMs,
    to: EpochMs,
    bad: z.number().nonnegative(),
    total: z.number().nonnegative(),
    /** 1 − bad / ((1 − target) · total): 1 untouched, 0 spent, below 0 overspent; null below k devices. */
    remaining: z.number().nullable(),
  }),
})
export type ObjectiveStatus = z.infer<typeof ObjectiveStatus>

/** The SLOs of a model as `GET` returns them: the webhook secret is never shown. */
export const SloView = z.object({
  model: ModelName,
  objectives: z.array(Objective),
  period: z.string(),
  enabled: z.boolean(),
  webhook: z.object({ url: z.string(), secret: z.literal('<redacted>') }).optional(),
  revision: z.number().int().positive(),
  updatedAt: EpochMs,
  updatedBy: z.string(),
  /** The last evaluation (null before the first) and the next one (null when disabled). */
  lastEvaluatedAt: EpochMs.nullable(),
  nextEvaluationAt: EpochMs.nullable(),
})
export type SloView = z.infer<typeof SloView>

/** `GET /v1/models/:model/slo/status` and the answer of `POST …/slo/evaluate`. */
export const SloStatus = z.object({
  model: ModelName,
  /** The version judged (the production alias at evaluation); null when the model has none. */
  version: z.number().int().positive().nullable(),
  evaluatedAt: EpochMs,
  period: z.string(),
  objectives: z.array(ObjectiveStatus),
})
export type SloStatus = z.infer<typeof SloStatus>
