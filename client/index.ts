/**
 * edgefleet's browser SDK: load models assigned by the edge, verified and cached in IndexedDB, run
 * them in a Web Worker (WebGPU first, WASM fallback) and watch them for drift.
 *
 * @example
 * import { createFleet } from '@edgefleet/client'
 * const fleet = createFleet({ endpoint: 'https://edge.example.com', appKey: 'ef_…' })
 * const model = await fleet.load('weather', { onProgress: ({ loaded, total }) => console.log(loaded / total) })
 * const r = await model.predict({ temp_max: 14.2, precipitation: 0, wind: 3.1, month: '6' })
 */
export { createFleet } from './fleet.ts'
export type {
  DpOptions,
  FeedbackResult,
  Fleet,
  FleetEvent,
  FleetOptions,
  LoadOptions,
  TelemetryOptions,
} from './types.ts'
export type { FleetModel, Prediction } from './model.ts'
export type { Progress } from './download.ts'
export { EdgefleetError, isEdgefleetError } from '../core/errors.ts'
export type { ErrorCode } from '../core/errors.ts'
export type { DriftReport, FeatureDrift, ModelInput, ModelOutput, TensorData } from '../worker/protocol.ts'
