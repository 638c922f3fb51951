import { EdgefleetError } from '../../core/errors.ts'
import type { Assignment, TelemetrySettings } from '../../core/formats/assignment.ts'
import type { DeviceCaps } from '../../core/formats/telemetry.ts'
import { armOf, type RolloutAssignView } from '../../core/rollout/assign.ts'
import { getAlias } from '../db/aliases.ts'
import { getModel } from '../db/models.ts'
import { getVersion, type VersionRecord } from '../db/versions.ts'

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
 * `ttlSeconds`, so a kill switch reaches devices within that.
 */
export async function assignVersion(
  db: D1Database,
  q: { model: string; deviceId: string; caps: DeviceCaps; origin: string; rollout: RolloutAssignView | null },
): Promise<Assignment> {
  const arm = q.rollout ? armOf(q.rollout, q.deviceId, q.caps) : null
  const r = arm === null ? null : q.rollout
  let primary: number | null
  if (r === null) primary = await getAlias(db, q.model, 'production')
  else primary = r.mode !== 'shadow' && arm === 'candidate' ? r.candidate : r.baseline
  if (primary === null) {
    const model = await getModel(db, q.model)
    throw new EdgefleetError(
      'not_found',
      model ? `model "${q.model}" has no production version yet` : `model "${q.model}" does not exist`,
    )
  }
  const shadowVersion = r !== null && r.mode === 'shadow' && arm === 'candidate' ? r.candidate : null
  const [v, s] = await Promise.all([
    getVersion(db, q.model, primary),
    shadowVersion === null ? null : getVersion(db, q.model, shadowVersion),
  ])
  if (!v) throw new EdgefleetError('not_found', `model "${q.model}" has no version ${primary}`)
  const files = (x: VersionRecord) => x.files.map((f) => ({ ...f, url: `${q.origin}/v1/artifacts/${f.sha256}` }))
  return {
    model: q.model,
    version: v.version,
    role: 'primary',
    format: v.format,
    files: files(v),
    ...(v.signature ? { signature: v.signature } : {}),
    ...(v.profile ? { profile: v.profile } : {}),
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
            sampleRate: r.shadowSampleRate,
          },
        }
      : {}),
    ttlSeconds: r?.ttlSeconds ?? DEFAULT_TTL_SECONDS,
  }
}
