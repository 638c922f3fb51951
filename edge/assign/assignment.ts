import { EdgefleetError } from '../../core/errors.ts'
import type { Assignment, TelemetrySettings } from '../../core/formats/assignment.ts'
import type { DeviceCaps } from '../../core/formats/telemetry.ts'
import { armOf, type RolloutAssignView } from '../../core/rollout/assign.ts'
import { productionOf } from '../db/aliases.ts'
import { getVersion, type VersionRecord } from '../db/versions.ts'

/** Where assignments read the registry: D1 itself, or the isolate's cache of it (registry-cache.ts). */
export interface RegistryReader {
  production(db: D1Database, model: string): Promise<{ production: number | null } | null>
  version(db: D1Database, model: string, version: number): Promise<VersionRecord | null>
}

/** Reads D1 on every call. */
export const uncachedRegistry: RegistryReader = { production: productionOf, version: getVersion }

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
  },
): Promise<Assignment> {
  const registry = q.registry ?? uncachedRegistry
  const known = await registry.production(db, q.model)
  if (known === null) throw new EdgefleetError('not_found', `model "${q.model}" does not exist`)
  const rollout = await q.rolloutOf(q.model)
  const arm = rollout ? armOf(rollout, q.deviceId, q.caps) : null
  const r = arm === null ? null : rollout
  let primary: number | null
  if (r === null) primary = known.production
  else primary = r.mode !== 'shadow' && arm === 'candidate' ? r.candidate : r.baseline
  if (primary === null) throw new EdgefleetError('not_found', `model "${q.model}" has no production version yet`)
  const shadowVersion = r !== null && r.mode === 'shadow' && arm === 'candidate' ? r.candidate : null
  const [v, s] = await Promise.all([
    registry.version(db, q.model, primary),
    shadowVersion === null ? null : registry.version(db, q.model, shadowVersion),
  ])
  if (!v) throw new EdgefleetError('not_found', `model "${q.model}" has no version ${primary}`)
  // Every device of an arm gets the same answer: built once per version record (the registry cache
  // keeps one for up to 5 s) and everything else it depends on.
  const key = `${q.origin}|${arm}|${r === null ? '' : `${r.id}|${r.mode}|${r.ttlSeconds}|${r.shadowSampleRate}`}|${s?.version ?? ''}`
  let memo = built.get(v)
  if (memo === undefined) built.set(v, (memo = new Map()))
  const memoized = memo.get(key)
  if (memoized !== undefined) return memoized
  const assignment = buildAssignment(q, v, s, r, arm)
  if (memo.size >= 16) memo.delete(memo.keys().next().value as string)
  memo.set(key, assignment)
  return assignment
}

const built = new WeakMap<VersionRecord, Map<string, Assignment>>()

function buildAssignment(
  q: { model: string; origin: string },
  v: VersionRecord,
  s: VersionRecord | null,
  r: RolloutAssignView | null,
  arm: ReturnType<typeof armOf> | null,
): Assignment {
  const files = (x: VersionRecord) => x.files.map((f) => ({ ...f, url: `${q.origin}/v1/artifacts/${f.sha256}` }))
  return {
    model: q.model,
    version: v.version,
    role: 'primary',
    format: v.format,
    files: files(v),
    ...(v.signature ? { signature: v.signature } : {}),
    ...(v.profile ? { profile: v.profile } : {}),
    ...(v.sigstoreBundle ? { sigstoreBundle: v.sigstoreBundle } : {}),
    telemetry: DEFAULT_TELEMETRY,
    ...(r !== null && arm !== null ? { rollout: { id: r.id, arm, mode: r.mode } } : {}),
    ...(s && r
      ? {
          shadow: {
            version: s.version,
            format: s.format,
            files: files(s),
            ...(s.signature ? { signature: s.signature } : {}),
            ...(s.profile ? { profile: s.profile } : {}),
            ...(s.sigstoreBundle ? { sigstoreBundle: s.sigstoreBundle } : {}),
            sampleRate: r.shadowSampleRate,
          },
        }
      : {}),
    ttlSeconds: r?.ttlSeconds ?? DEFAULT_TTL_SECONDS,
  }
}
