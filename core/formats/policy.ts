import * as z from 'zod'
import { Count, EpochMs, ModelName } from './common.ts'
import { FeatureKey } from './profile.ts'

/**
 * Retraining policies, `PUT /v1/models/:model/policy`. `when` is one condition, or `any`/`all` of a
 * list of them (one level: small and composable). Every condition is judged on the merged fleet
 * view of the watched version (role `primary`, every rollout arm) over UTC-aligned windows of
 * `windowMinutes`, evaluated as each window closes (plus `graceMinutes` for late reports), and needs
 * its last `consecutiveWindows` closed windows to hold:
 *
 * - `anyFeatureDrifted` / `anyOutputDrifted`: one and the same feature (output) has the binned drift
 *   verdict `drifted` (core/drift policy: chi-squared p < 0.01 AND JS > 0.1) in every window, each
 *   window seen on at least `minDevices` distinct devices; `names` restricts the features looked at.
 * - `accuracyBelow`: feedback accuracy < `value` with at least `minLabeled` labels in every window.
 * - `errorRateAbove`: errors / inferences > `value` with at least `minInferences` in every window.
 * - `qualityRateAbove`: the worst input feature's data-quality problem rate (rows with a problem /
 *   rows, core/telemetry/quality.ts) > `value` with at least `minRows` rows in every window; `names`
 *   restricts the features looked at.
 * - `estimatedAccuracyBelow`: the accuracy estimated without labels from calibrated confidences
 *   (core/estimate) < `value` with at least `minPredictions` calibrated predictions in every window.
 *
 * ```json
 * {"when": {"any": [{"anyFeatureDrifted": {"consecutiveWindows": 2, "minDevices": 50, "windowMinutes": 60}},
 *                   {"accuracyBelow": {"value": 0.8, "minLabeled": 100, "windowMinutes": 1440}}]},
 *  "cooldownMinutes": 1440, "webhook": {"url": "https://trainer.example.com/hooks/edgefleet", "secret": "…"}}
 * ```
 * A firing records a `retrain.requested` event with the evidence and, with a `webhook`, POSTs it
 * signed (docs/telemetry.md); no second firing happens within `cooldownMinutes`.
 */

/** Window lengths divide a day, so windows line up with UTC days and hours. */
const WindowMinutes = z
  .number()
  .int()
  .min(5)
  .max(1440)
  .refine((m) => 1440 % m === 0, 'windowMinutes must divide 1440 (5, 10, 15, 30, 60, …, 1440)')
const Consecutive = z.number().int().min(1).max(48)

const DriftCondition = z.strictObject({
  consecutiveWindows: Consecutive.default(2),
  minDevices: Count.min(1).default(50),
  windowMinutes: WindowMinutes.default(60),
  names: z.array(FeatureKey).min(1).max(200).optional(),
})

/** One condition of a retraining policy. */
export const Condition = z.union([
  z.strictObject({ anyFeatureDrifted: DriftCondition }),
  z.strictObject({ anyOutputDrifted: DriftCondition }),
  z.strictObject({
    accuracyBelow: z.strictObject({
      value: z.number().gt(0).lte(1),
      minLabeled: Count.min(1).default(100),
      windowMinutes: WindowMinutes.default(1440),
      consecutiveWindows: Consecutive.default(1),
    }),
  }),
  z.strictObject({
    errorRateAbove: z.strictObject({
      value: z.number().min(0).lt(1),
      minInferences: Count.min(1).default(1000),
      windowMinutes: WindowMinutes.default(60),
      consecutiveWindows: Consecutive.default(1),
    }),
  }),
  z.strictObject({
    qualityRateAbove: z.strictObject({
      value: z.number().min(0).lt(1),
      minRows: Count.min(1).default(1000),
      windowMinutes: WindowMinutes.default(60),
      consecutiveWindows: Consecutive.default(1),
      names: z.array(FeatureKey).min(1).max(200).optional(),
    }),
  }),
  z.strictObject({
    estimatedAccuracyBelow: z.strictObject({
      value: z.number().gt(0).lte(1),
      minPredictions: Count.min(1).default(1000),
      windowMinutes: WindowMinutes.default(1440),
      consecutiveWindows: Consecutive.default(1),
    }),
  }),
])
export type Condition = z.infer<typeof Condition>

/** A condition, or any/all of up to 8 conditions. */
export const When = z.union([
  Condition,
  z.strictObject({ any: z.array(Condition).min(1).max(8) }),
  z.strictObject({ all: z.array(Condition).min(1).max(8) }),
])
export type When = z.infer<typeof When>

const Webhook = z.strictObject({
  url: z.url({ protocol: /^https?$/, hostname: z.regexes.hostname }).max(2048),
  /** HMAC-SHA256 key for `X-Edgefleet-Signature`; write-only (never returned). */
  secret: z.string().min(16).max(256),
})

/** The body of `PUT /v1/models/:model/policy`. */
export const RetrainPolicy = z.strictObject({
  when: When,
  /** The version watched; default: whichever version `production` points to at each evaluation. */
  version: z.number().int().positive().optional(),
  cooldownMinutes: z.number().int().min(0).max(43_200).default(1440),
  /** Minutes to wait after a window closes before judging it (late reports). */
  graceMinutes: z.number().int().min(0).max(60).default(5),
  enabled: z.boolean().default(true),
  webhook: Webhook.optional(),
})
export type RetrainPolicy = z.infer<typeof RetrainPolicy>
export type RetrainPolicyInput = z.input<typeof RetrainPolicy>

/** A policy as `GET` returns it: the webhook secret is never shown, and the evaluation state. */
export const PolicyView = z.object({
  model: ModelName,
  when: When,
  version: z.number().int().positive().optional(),
  cooldownMinutes: z.number().int(),
  graceMinutes: z.number().int(),
  enabled: z.boolean(),
  webhook: z.object({ url: z.string(), secret: z.literal('<redacted>') }).optional(),
  revision: z.number().int().positive(),
  updatedAt: EpochMs,
  updatedBy: z.string(),
  state: z.object({
    lastEvaluatedAt: EpochMs.nullable(),
    lastFiredAt: EpochMs.nullable(),
    lastEventId: z.string().nullable(),
    cooldownUntil: EpochMs.nullable(),
    nextEvaluationAt: EpochMs.nullable(),
    lastResult: z.object({ met: z.boolean(), reason: z.string() }).nullable(),
  }),
})
export type PolicyView = z.infer<typeof PolicyView>
