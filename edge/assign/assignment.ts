import { EdgefleetError } from '../../core/errors.ts'
import type { Assignment, TelemetrySettings } from '../../core/formats/assignment.ts'
import type { DeviceCaps } from '../../core/formats/telemetry.ts'
import { getAlias } from '../db/aliases.ts'
import { getModel } from '../db/models.ts'
import { getVersion } from '../db/versions.ts'

/** How long a device may keep an assignment before asking again (DESIGN: default 30 s, at most 60). */
export const DEFAULT_TTL_SECONDS = 30

/** Telemetry settings handed to every device unless a rollout or policy says otherwise. */
export const DEFAULT_TELEMETRY: TelemetrySettings = { sampleRate: 1, windowSeconds: 60, flushSeconds: 30 }

/**
 * The version a device runs: the model's `production` alias. (Rollouts refine this per device
 * with `bucket/1`.)
 */
export async function assignVersion(
  db: D1Database,
  q: { model: string; deviceId: string; caps: DeviceCaps; origin: string },
): Promise<Assignment> {
  const version = await getAlias(db, q.model, 'production')
  if (version === null) {
    const model = await getModel(db, q.model)
    throw new EdgefleetError('not_found', model ? `model "${q.model}" has no production version yet` : `model "${q.model}" does not exist`)
  }
  const v = await getVersion(db, q.model, version)
  if (!v) throw new EdgefleetError('not_found', `model "${q.model}" has no version ${version}`)
  return {
    model: q.model,
    version: v.version,
    role: 'primary',
    format: v.format,
    files: v.files.map((f) => ({ ...f, url: `${q.origin}/v1/artifacts/${f.sha256}` })),
    ...(v.signature ? { signature: v.signature } : {}),
    ...(v.profile ? { profile: v.profile } : {}),
    telemetry: DEFAULT_TELEMETRY,
    ttlSeconds: DEFAULT_TTL_SECONDS,
  }
}
