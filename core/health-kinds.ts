/**
 * @module The device health events the SDK counts (docs/device-health.md), zod-free so the SDK bundle
 * can import them; `core/formats/health.ts` holds their wire schema.
 */

/** The health events a device counts, in wire order. */
export const HEALTH_KINDS = ['deviceLost', 'oomLoad', 'oomRun', 'workerCrash', 'loadAbandoned'] as const
export type HealthKind = (typeof HEALTH_KINDS)[number]
