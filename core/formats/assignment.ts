import * as z from 'zod'
import { Arm, Backend, FilePath, ModelFormat, ModelName, Role, RolloutId, Sha256 } from './common.ts'
import { HfDtype, HfFileRole } from './hf.ts'
import { Profile } from './profile.ts'
import { Signature } from './signature.ts'
import { SigstoreBundle } from './sigstore-bundle.ts'
import { isSampleRate, MIN_SAMPLE_RATE } from './telemetry.ts'
import { VariantName } from './variants.ts'

/** A file of a model version, as listed in manifests and assignments. */
export const ManifestFile = z.strictObject({
  path: FilePath,
  url: z.string().min(1),
  sha256: Sha256,
  size: z.number().int().nonnegative(),
  /** What the file is for in a Hugging Face model folder (`hf-onnx` versions only). */
  role: HfFileRole.optional(),
  /** The weight type of an ONNX graph or its external data (`hf-onnx` versions only). */
  dtype: HfDtype.optional(),
})
export type ManifestFile = z.infer<typeof ManifestFile>

/** How a device should report telemetry for an assigned model. */
export const TelemetrySettings = z.strictObject({
  // A rate the edge accepts in a batch (telemetry/1: at least 0.001, a multiple of it).
  sampleRate: z.number().min(MIN_SAMPLE_RATE).lte(1).refine(isSampleRate, 'a multiple of 0.001'),
  windowSeconds: z.number().int().min(60).max(3600),
  flushSeconds: z.number().int().min(5).max(3600),
})
export type TelemetrySettings = z.infer<typeof TelemetrySettings>

/** A runnable model version: everything a device needs to download, verify and run it. */
export const AssignedModel = z.strictObject({
  version: z.number().int().positive(),
  format: ModelFormat,
  files: z.array(ManifestFile).min(1),
  signature: Signature.optional(),
  profile: Profile.optional(),
  sigstoreBundle: SigstoreBundle.optional(),
  /** The variant picked for this device (docs/variants.md); `files` are that variant's only. */
  variant: VariantName.optional(),
  /** The backends the variant runs on (its `requires.backends`); the SDK tries no other. */
  backends: z.array(Backend).min(1).max(4).optional(),
})
export type AssignedModel = z.infer<typeof AssignedModel>

/** `GET /v1/assign/:model`: the version a device runs, its role, and any shadow to run beside it. */
export const Assignment = z.strictObject({
  model: ModelName,
  version: z.number().int().positive(),
  role: Role,
  format: ModelFormat,
  files: z.array(ManifestFile).min(1),
  signature: Signature.optional(),
  profile: Profile.optional(),
  /** The publisher's signature over the files; an SDK given trusted keys refuses a version without one. */
  sigstoreBundle: SigstoreBundle.optional(),
  /** The variant picked for this device (docs/variants.md); `files` are that variant's only. */
  variant: VariantName.optional(),
  /** The backends the variant runs on (its `requires.backends`); the SDK tries no other. */
  backends: z.array(Backend).min(1).max(4).optional(),
  telemetry: TelemetrySettings,
  rollout: z.strictObject({ id: RolloutId, arm: Arm, mode: z.enum(['canary', 'ab', 'shadow']) }).optional(),
  shadow: AssignedModel.extend({ sampleRate: z.number().gt(0).lte(1) }).optional(),
  ttlSeconds: z.number().int().min(1).max(60),
})
export type Assignment = z.infer<typeof Assignment>
