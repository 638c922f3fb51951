import { EdgefleetError } from '../../core/errors.ts'
import type { Assignment, TelemetrySettings } from '../../core/formats/assignment.ts'
import type { Backend } from '../../core/formats/common.ts'
import type { DeviceCaps } from '../../core/formats/telemetry.ts'
import type { Variant, VariantExclusion } from '../../core/formats/variants.ts'
import { excludedFor } from '../../core/variants/exclusions.ts'
import { pickVariant } from '../../core/variants/pick.ts'
import { armOf, type RolloutAssignView } from '../../core/rollout/assign.ts'
import { acceptedCohort } from '../../core/formats/cohort.ts'
import { productionOf } from '../db/aliases.ts'
import { cohortRouting, type CohortRouting } from '../db/cohorts.ts'
import { getVersion, type VersionRecord } from '../db/versions.ts'

/** Where assignments read the registry: D1 itself, or the isolate's cache of it (registry-cache.ts). */
export interface RegistryReader {
  production(db: D1Database, model: string): Promise<{ production: number | null } | null>
  version(db: D1Database, model: string, version: number): Promise<VersionRecord | null>
  cohorts(db: D1Database, model: string): Promise<CohortRouting>
}

/** Reads D1 on every call. */
export const uncachedRegistry: RegistryReader = {
  production: productionOf,
  version: getVersion,
  cohorts: cohortRouting,
}

/** How long a device may keep an assignment before asking again (DESIGN: default 30 s, at most 60). */
export const DEFAULT_TTL_SECONDS = 30

/** Telemetry settings handed to every device unless a rollout or policy says otherwise. */
export const DEFAULT_TELEMETRY: TelemetrySettings = { sampleRate: 1, windowSeconds: 60, flushSeconds: 30 }

/**
 * The version a device runs. Outside a rollout (or when the rollout does not target the device):
 * the model's `production` alias. Inside one, `bucket/1` on the rollout id picks the arm
 * (core/rollout/assign.ts): `canary`/`ab` serve the arm's version; `shadow` serves the baseline to
 * every targeted device and hands the candidate arm the candidate as a background `shadow`. The
 * assignment names the rollout and arm so the device labels its reports, and uses the rollout's
 * `ttlSeconds`, so a kill switch reaches devices within that. The model is looked up in D1 before
 * its rollout (`rolloutOf`, the ModelControl behind the per-isolate cache) is asked for, so an unknown
 * model is a 404 that never reaches (or creates) a Durable Object.
 *
 * A device may send a cohort label: one outside the model's allow-list counts as none (never an
 * error). A pinned cohort runs its pinned version and takes part in no rollout (the pin outranks
 * both `production` and rollouts); otherwise the cohort only matters to a rollout's
 * `targeting.cohorts`. Devices that send no cohort are assigned exactly as without cohorts, and the
 * allow-list is read only for devices that send one.
 */
export async function assignVersion(
  db: D1Database,
  q: {
    model: string
    deviceId: string
    caps: DeviceCaps
    origin: string
    rolloutOf: (model: string) => Promise<RolloutAssignView | null>
    registry?: RegistryReader
    /** The cohort label the device sent, unchecked. */
    cohort?: string
    /** Variants the device found broken (`exclude=3:fp16`): never picked again for that version. */
    exclude?: readonly VariantExclusion[]
  },
): Promise<Assignment> {
  return (await assignWithCohort(db, q)).assignment
}

/** `assignVersion`, also saying which cohort label was accepted (null: none sent, or not in the allow-list). */
export async function assignWithCohort(
  db: D1Database,
  q: Parameters<typeof assignVersion>[1],
): Promise<{ assignment: Assignment; cohort: string | null }> {
  const registry = q.registry ?? uncachedRegistry
  const known = await registry.production(db, q.model)
  if (known === null) throw new EdgefleetError('not_found', `model "${q.model}" does not exist`)
  const routing = q.cohort === undefined ? null : await registry.cohorts(db, q.model)
  const cohort = routing === null ? null : acceptedCohort(q.cohort, routing.allowed)
  const pinned = cohort === null ? undefined : routing!.pins.get(cohort)
  const rollout = pinned === undefined ? await q.rolloutOf(q.model) : null
  const arm = rollout ? armOf(rollout, q.deviceId, q.caps, cohort) : null
  const r = arm === null ? null : rollout
  let primary: number | null
  if (pinned !== undefined) primary = pinned
  else if (r === null) primary = known.production
  else primary = r.mode !== 'shadow' && arm === 'candidate' ? r.candidate : r.baseline
  if (primary === null) throw new EdgefleetError('not_found', `model "${q.model}" has no production version yet`)
  const shadowVersion = r !== null && r.mode === 'shadow' && arm === 'candidate' ? r.candidate : null
  const [v, s] = await Promise.all([
    registry.version(db, q.model, primary),
    shadowVersion === null ? null : registry.version(db, q.model, shadowVersion),
  ])
  if (!v) throw new EdgefleetError('not_found', `model "${q.model}" has no version ${primary}`)
  const variant = variantOf(v, q)
  if (variant === null)
    throw new EdgefleetError(
      'no_variant',
      `every variant of v${v.version} of "${q.model}" this device fits is excluded (${[...excludedFor(q.exclude ?? [], v.version)].join(', ')})`,
    )
  // A shadow without a variant left for the device is not run (the primary still is).
  const shadowVariant = s ? variantOf(s, q) : undefined
  const shadow = shadowVariant === null ? null : s
  // Every device of an arm gets the same answer: built once per version record (the registry cache
  // keeps one for up to 5 s) and everything else it depends on.
  const key = `${q.origin}|${arm}|${r === null ? '' : `${r.id}|${r.mode}|${r.ttlSeconds}|${r.shadowSampleRate}`}|${shadow?.version ?? ''}|${variant?.name ?? ''}|${shadowVariant?.name ?? ''}`
  let memo = built.get(v)
  if (memo === undefined) built.set(v, (memo = new Map()))
  const memoized = memo.get(key)
  if (memoized !== undefined) return { assignment: memoized, cohort }
  const assignment = buildAssignment(q, { v, variant, s: shadow, shadowVariant: shadowVariant ?? undefined }, r, arm)
  if (memo.size >= 16) memo.delete(memo.keys().next().value as string)
  memo.set(key, assignment)
  return { assignment, cohort }
}

const built = new WeakMap<VersionRecord, Map<string, Assignment>>()

/**
 * The variant of `v` the device runs: undefined when `v` has no variants, null when every one it fits
 * is excluded (core/variants/pick.ts).
 */
function variantOf(
  v: VersionRecord,
  q: { caps: DeviceCaps; exclude?: readonly VariantExclusion[] },
): Variant | null | undefined {
  if (v.variants === null) return undefined
  return pickVariant(v.variants, q.caps, excludedFor(q.exclude ?? [], v.version)).value
}

/** A variant's fields of an assignment: its name and backends (nothing for a version without variants). */
function variantFields(variant: Variant | undefined): { variant?: string; backends?: Backend[] } {
  if (variant === undefined) return {}
  return { variant: variant.name, ...(variant.requires?.backends ? { backends: variant.requires.backends } : {}) }
}

function buildAssignment(
  q: { model: string; origin: string },
  {
    v,
    variant,
    s,
    shadowVariant,
  }: { v: VersionRecord; variant: Variant | undefined; s: VersionRecord | null; shadowVariant: Variant | undefined },
  r: RolloutAssignView | null,
  arm: ReturnType<typeof armOf> | null,
): Assignment {
  // A variant's files only: the device downloads nothing it will not run.
  const files = (x: VersionRecord, picked: Variant | undefined) => {
    const keep = picked === undefined ? null : new Set(picked.files)
    return x.files
      .filter((f) => keep === null || keep.has(f.path))
      .map((f) => ({ ...f, url: `${q.origin}/v1/artifacts/${f.sha256}` }))
  }
  return {
    model: q.model,
    version: v.version,
    role: 'primary',
    format: v.format,
    files: files(v, variant),
    ...(v.signature ? { signature: v.signature } : {}),
    ...(v.profile ? { profile: v.profile } : {}),
    ...(v.sigstoreBundle ? { sigstoreBundle: v.sigstoreBundle } : {}),
    ...variantFields(variant),
    telemetry: DEFAULT_TELEMETRY,
    ...(r !== null && arm !== null ? { rollout: { id: r.id, arm, mode: r.mode } } : {}),
    ...(s && r
      ? {
          shadow: {
            version: s.version,
            format: s.format,
            files: files(s, shadowVariant),
            ...(s.signature ? { signature: s.signature } : {}),
            ...(s.profile ? { profile: s.profile } : {}),
            ...(s.sigstoreBundle ? { sigstoreBundle: s.sigstoreBundle } : {}),
            ...variantFields(shadowVariant),
            sampleRate: r.shadowSampleRate,
          },
        }
      : {}),
    ttlSeconds: r?.ttlSeconds ?? DEFAULT_TTL_SECONDS,
  }
}
