import * as z from 'zod'
import { Count } from './common.ts'

/**
 * @module Device health counters of `telemetry/1` (docs/device-health.md): what kills on-device ML in
 * the field, counted per model version × role × rollout arm × backend and window. Counts only.
 */

export { HEALTH_KINDS, type HealthKind } from '../health-kinds.ts'

/**
 * One report's health counts: `deviceLost` the WebGPU device was lost while the version ran;
 * `oomLoad` / `oomRun` a load or an inference ran out of memory (wasm heap, ORT allocation, GPU
 * buffer); `workerCrash` the inference worker died (its `error` event or an unexpected end);
 * `loadAbandoned` a load was left unfinished because the page died (counted on the next page load).
 */
export const HealthCounts = z.strictObject({
  deviceLost: Count,
  oomLoad: Count,
  oomRun: Count,
  workerCrash: Count,
  loadAbandoned: Count,
})
export type HealthCounts = z.infer<typeof HealthCounts>
