/**
 * @module
 * Retraining runs (`/v1/models/:model/runs`): what one run of the retrainer did, recorded at the edge
 * for experiment tracking. A run names its parameters, its data (by SHA-256), its holdout metrics
 * beside the champion's on the same rows, every gate with its value, limit and verdict, what triggered
 * it and the version it published. The retrainer chooses the id (`run_` + 20 hex), so it can name the
 * run in the version's lineage before recording it; recording the same id twice is a no-op.
 */
import * as z from 'zod'
import { EpochMs, ModelName, Sha256 } from './common.ts'

/** A run id: `run_` and 20 lowercase hex characters. */
export const RunId = z.string().regex(/^run_[0-9a-f]{20}$/, 'a run id: run_ and 20 lowercase hex characters')

/** What started a run: a `retrain.requested` event id, or `manual`. */
export const RunTrigger = z.union([
  z.literal('manual'),
  z.string().regex(/^evt_[0-9a-f]{20}$/, 'an event id (evt_ and 20 hex characters) or "manual"'),
])
export type RunTrigger = z.infer<typeof RunTrigger>

/** `completed`: every gate passed; `rejected`: a gate failed, nothing was published; `failed`: the run broke. */
export const RunStatus = z.enum(['completed', 'rejected', 'failed'])
export type RunStatus = z.infer<typeof RunStatus>

/** The model families the retrainer trains. */
export const RunFamily = z.enum(['lda', 'mlp'])
export type RunFamily = z.infer<typeof RunFamily>

const Share = z.number().min(0).max(1)
const Name = z.string().min(1).max(128)

/** Accuracy over a group of holdout rows. */
export const GroupAccuracy = z.strictObject({ n: z.number().int().nonnegative(), accuracy: Share })

/** Holdout metrics of one model (the candidate or the champion). */
export const RunMetrics = z.strictObject({
  accuracy: Share,
  /** Mean −ln p(true class), with p clamped to 1e-15. */
  logLoss: z.number().nonnegative(),
  perClass: z.record(Name, GroupAccuracy).refine((r) => Object.keys(r).length <= 1000, 'at most 1000 classes'),
  /** Per column, per value: accuracy of the slices the gates looked at (at most 16 columns, 200 values each). */
  perSlice: z
    .record(
      Name,
      z.record(Name, GroupAccuracy).refine((r) => Object.keys(r).length <= 200, 'at most 200 slices'),
    )
    .refine((r) => Object.keys(r).length <= 16, 'at most 16 columns')
    .default({}),
  /** Training time in ms (absent for a champion). */
  trainingMs: z.number().nonnegative().optional(),
  /** Size of the model file in bytes. */
  bytes: z.number().int().nonnegative().optional(),
  /** p95 of one-record inference in onnxruntime-web, ms. */
  latencyP95Ms: z.number().nonnegative().optional(),
})
export type RunMetrics = z.infer<typeof RunMetrics>

/** One gate's verdict with its numbers (`value` null when it could not be measured, e.g. no slice large enough). */
export const GateResult = z.strictObject({
  gate: z.string().min(1).max(200),
  value: z.number().nullable(),
  limit: z.number(),
  passed: z.boolean(),
  message: z.string().max(500),
})
export type GateResult = z.infer<typeof GateResult>

/** The model the candidate is compared with: a registry version, or the majority-class predictor. */
export const Champion = z.strictObject({
  kind: z.enum(['version', 'majority']),
  version: z.number().int().positive().nullable(),
  metrics: RunMetrics,
})
export type Champion = z.infer<typeof Champion>

/** The body of `POST /v1/models/:model/runs`. */
export const CreateRun = z.strictObject({
  id: RunId,
  status: RunStatus,
  trigger: RunTrigger,
  params: z.strictObject({
    family: RunFamily,
    seed: z.number().int(),
    holdout: z.number().gt(0).lt(1),
    hyper: z.record(Name, z.union([z.number(), z.string().max(200), z.boolean()])).default({}),
  }),
  data: z.strictObject({
    /** The file name or source (a path's base name, a URL, a command), for people. */
    name: z.string().min(1).max(500),
    sha256: Sha256,
    rows: z.number().int().nonnegative(),
    trainRows: z.number().int().nonnegative(),
    holdoutRows: z.number().int().nonnegative(),
    label: Name,
    features: z.array(Name).max(1024),
  }),
  /** The candidate's holdout metrics; null when the run failed before evaluating one. */
  metrics: RunMetrics.nullable(),
  champion: Champion.nullable(),
  gates: z.array(GateResult).max(64),
  /** The version this run published, if any. */
  version: z.number().int().positive().nullable().default(null),
  /** The rollout it started, if any. */
  rollout: z.string().max(64).nullable().default(null),
  codeCommit: z.string().min(1).max(128).nullable().default(null),
  /** Why a `failed` run failed. */
  error: z.string().max(2000).nullable().default(null),
  startedAt: EpochMs,
  finishedAt: EpochMs,
})
export type CreateRun = z.input<typeof CreateRun>

/** A recorded run, as the edge returns it. */
export const Run = CreateRun.extend({
  model: ModelName,
  createdAt: EpochMs,
  createdBy: z.string(),
})
export type Run = z.infer<typeof Run>

/** A page of runs, newest first; pass `next` as `before` for older ones. */
export const RunPage = z.object({ runs: z.array(Run), next: z.string().nullable() })
export type RunPage = z.infer<typeof RunPage>
