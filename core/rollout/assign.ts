import { bucketOf, bucketThreshold } from '../bucket.ts'
import type { Arm } from '../formats/common.ts'
import type { RolloutConfig, Targeting } from '../formats/rollout.ts'
import type { DeviceCaps } from '../formats/telemetry.ts'

/**
 * What the assign route needs of a model's active rollout, and nothing more: it is what the edge
 * caches per isolate (DESIGN "Rollouts": refreshed at most every 5 s, never KV).
 */
export interface RolloutAssignView {
  id: string
  mode: RolloutConfig['mode']
  status: 'running' | 'paused'
  baseline: number
  candidate: number
  /** The candidate's share of targeted devices at the current step. */
  percent: number
  targeting?: Targeting
  ttlSeconds: number
  shadowSampleRate: number
}

/**
 * True when a device takes part in a rollout with this targeting (no targeting: every device).
 * `cohort` is the device's accepted cohort label (null: none, or one outside the model's allow-list);
 * with `targeting.cohorts` only devices in a listed cohort take part.
 */
export function isTargeted(
  targeting: Targeting | undefined,
  deviceId: string,
  caps: DeviceCaps,
  cohort: string | null = null,
): boolean {
  if (!targeting) return true
  if (targeting.cohorts && !(cohort !== null && targeting.cohorts.includes(cohort))) return false
  if (targeting.devices && !targeting.devices.includes(deviceId)) return false
  if (targeting.webgpu !== undefined && caps.webgpu !== targeting.webgpu) return false
  if (targeting.f16 !== undefined && (caps.f16 ?? false) !== targeting.f16) return false
  if (
    targeting.minDeviceMemory !== undefined &&
    !(caps.deviceMemory !== undefined && caps.deviceMemory >= targeting.minDeviceMemory)
  )
    return false
  if (targeting.platforms && !(caps.platform !== undefined && targeting.platforms.includes(caps.platform))) return false
  return true
}

/**
 * The arm of a device in a rollout, or null when the rollout does not target it. `bucket/1` with the
 * rollout id as salt: sticky (a pure function of id and device), monotone (a device in the
 * candidate at p% stays there at every larger share) and stateless. The cohort only decides whether
 * the device takes part, never its bucket. The same for every mode: in
 * `shadow` the candidate arm runs the candidate beside the baseline instead of in its place.
 *
 * @example armOf(view, 'dev_3f9a2c1e', { webgpu: true }) // 'candidate' for ~view.percent % of devices
 */
export function armOf(
  view: Pick<RolloutAssignView, 'id' | 'percent' | 'targeting'>,
  deviceId: string,
  caps: DeviceCaps,
  cohort: string | null = null,
): Arm | null {
  if (!isTargeted(view.targeting, deviceId, caps, cohort)) return null
  return bucketOf(view.id, deviceId) < bucketThreshold(view.percent) ? 'candidate' : 'baseline'
}
