import * as z from 'zod'
import { EpochMs, FilePath, ModelFormat, ModelName, Sha256 } from './common.ts'
import { ManifestFile } from './assignment.ts'
import { Profile } from './profile.ts'
import { ModelInterface } from './interface.ts'
import { Signature } from './signature.ts'
import { SigstoreBundle } from './sigstore-bundle.ts'
import { Variants } from './variants.ts'

/** Bodies and resources of the registry API (`/v1/models`, `/v1/artifacts`, `/v1/events`, `/v1/tokens`). */

export const Slug = z.string().regex(/^[a-z0-9-]{1,64}$/, 'a slug of [a-z0-9-], 1 to 64 characters')

export const CreateModel = z.strictObject({
  name: ModelName,
  task: z.string().min(1).max(64).default('generic'),
  format: ModelFormat,
  signature: Signature.optional(),
  description: z.string().max(2000).default(''),
})
export type CreateModel = z.input<typeof CreateModel>

export const Model = z.object({
  name: ModelName,
  task: z.string(),
  format: ModelFormat,
  signature: Signature.nullable(),
  description: z.string(),
  createdAt: EpochMs,
  createdBy: z.string(),
  latestVersion: z.number().int().nullable(),
  aliases: z.record(z.string(), z.number().int()),
})
export type Model = z.infer<typeof Model>

export const Lineage = z.strictObject({
  parent: z.number().int().positive().optional(),
  dataHash: z.string().min(1).max(128).optional(),
  codeCommit: z.string().min(1).max(128).optional(),
  triggerEvent: z.string().min(1).max(64).optional(),
  /** The retraining run (`/v1/models/:model/runs/:id`) that produced the version. */
  runId: z
    .string()
    .regex(/^run_[0-9a-f]{20}$/, 'a run id: run_ and 20 lowercase hex characters')
    .optional(),
  notes: z.string().max(2000).optional(),
})
export type Lineage = z.infer<typeof Lineage>

export const Metrics = z.record(z.string().min(1).max(64), z.number().refine(Number.isFinite, 'a finite number'))

export const PublishVersion = z.strictObject({
  files: z
    .array(z.strictObject({ path: FilePath, sha256: Sha256, size: z.number().int().nonnegative() }))
    .min(1)
    .max(256)
    .refine((fs) => new Set(fs.map((f) => f.path)).size === fs.length, 'file paths must be unique'),
  signature: Signature.optional(),
  profile: Profile.optional(),
  metrics: Metrics.default({}),
  lineage: Lineage.default({}),
  /** The inputs and outputs the model file declares (the CLI derives them); compared with the previous version's. */
  interface: ModelInterface.optional(),
  /** Publish even though the interface or the signature's features differ from the previous version's. */
  allowInterfaceChange: z.boolean().optional(),
  /** The publisher's signature over the files (OpenSSF model signing); it must cover every file. */
  sigstoreBundle: SigstoreBundle.optional(),
  /** Builds of the model for different devices, each a subset of `files` (docs/variants.md); first fit wins, the last is the default. */
  variants: Variants.optional(),
})
export type PublishVersion = z.input<typeof PublishVersion>

/** A published, immutable version: what `GET /v1/models/:model/versions/:version` returns. */
export const Manifest = z.object({
  model: ModelName,
  version: z.number().int().positive(),
  format: ModelFormat,
  files: z.array(ManifestFile),
  signature: Signature.nullable(),
  profile: Profile.nullable(),
  /** The declared inputs and outputs; null for versions published without them. */
  interface: ModelInterface.nullable(),
  /** The publisher's signature over the files, or null for an unsigned version. */
  sigstoreBundle: SigstoreBundle.nullable(),
  metrics: z.record(z.string(), z.number()),
  lineage: Lineage.extend({ createdBy: z.string(), createdAt: EpochMs }),
  deprecated: z.boolean(),
  deprecatedAt: EpochMs.nullable(),
  aliases: z.array(z.string()),
  /** The version's variants (docs/variants.md); absent for a version published without them. */
  variants: Variants.optional(),
})
export type Manifest = z.infer<typeof Manifest>

export const MoveAlias = z.strictObject({ version: z.number().int().positive() })

/** The answer to an alias move: where it points now and where it pointed before. */
export const AliasMove = z.object({
  model: z.string(),
  alias: z.string(),
  version: z.number().int(),
  previous: z.number().int().nullable(),
})
export type AliasMove = z.infer<typeof AliasMove>

/** One row of a model's version list. */
export const VersionSummary = z.object({
  version: z.number().int(),
  files: z.number().int(),
  size: z.number().int(),
  createdAt: EpochMs,
  createdBy: z.string(),
  parent: z.number().int().nullable(),
  deprecated: z.boolean(),
  aliases: z.array(z.string()),
  metrics: z.record(z.string(), z.number()),
  /** The retraining run that produced the version (lineage), when one did. */
  runId: z.string().optional(),
  /** The event that triggered that run (lineage), when one did. */
  triggerEvent: z.string().optional(),
})
export type VersionSummary = z.infer<typeof VersionSummary>

/** `GET /v1/models/:model`: the model, its versions newest first, and its current rollout (null when none). */
/** A page of `GET /v1/models`, by name; `next` (the last name of the page) is null on the last page. */
export const ModelPage = z.object({ models: z.array(Model), next: z.string().nullable(), hasMore: z.boolean() })
export type ModelPage = z.infer<typeof ModelPage>

export const ModelDetail = Model.extend({ versions: z.array(VersionSummary), rollout: z.unknown().nullable() })
export type ModelDetail = z.infer<typeof ModelDetail>

/** The answer to an upload: `created` is false when the bytes were already stored. */
export const StoredArtifact = z.object({ sha256: Sha256, size: z.number().int(), created: z.boolean() })
export type StoredArtifact = z.infer<typeof StoredArtifact>

/** The answer to uploading an encoded copy of an artifact: its encoding and stored (encoded) size. */
export const StoredVariant = z.object({
  sha256: Sha256,
  encoding: z.enum(['gzip']),
  size: z.number().int().nonnegative(),
  created: z.boolean(),
})
export type StoredVariant = z.infer<typeof StoredVariant>

export const PatchVersion = z.strictObject({ deprecated: z.literal(true) })

export const Event = z.object({
  id: z.string(),
  seq: z.number().int(),
  type: z.string(),
  model: z.string().nullable(),
  actor: z.string(),
  at: EpochMs,
  details: z.record(z.string(), z.unknown()),
})
export type Event = z.infer<typeof Event>

/** A page of events; `next` is the cursor after the last event (pass it as `after`), `hasMore` says whether more exist now. */
export const EventPage = z.object({ events: z.array(Event), next: z.string().nullable(), hasMore: z.boolean() })
export type EventPage = z.infer<typeof EventPage>

export const Scope = z.enum(['registry:read', 'registry:write', 'rollout:write', 'telemetry:read', 'admin', 'device'])
export type Scope = z.infer<typeof Scope>

export const CreateToken = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.@ -]{1,64}$/, 'a name of letters, digits, space and _.@-'),
    scopes: z.array(Scope).min(1).max(6),
    origins: z
      .array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'an origin like https://app.example.com'))
      .max(50)
      .optional(),
  })
  .refine((t) => !t.scopes.includes('device') || t.scopes.length === 1, {
    message: 'an app key has the single scope "device"',
    path: ['scopes'],
  })
export type CreateToken = z.input<typeof CreateToken>

export const Token = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(Scope),
  origins: z.array(z.string()).nullable(),
  createdAt: EpochMs,
  createdBy: z.string(),
  lastUsedAt: EpochMs.nullable(),
  revokedAt: EpochMs.nullable(),
})
export type Token = z.infer<typeof Token>

export const CreatedToken = Token.extend({ token: z.string() })
export type CreatedToken = z.infer<typeof CreatedToken>
