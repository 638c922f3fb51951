/**
 * @module
 * The constants of `telemetry/1` (core/formats/telemetry.ts) in a module of their own, without the
 * schema, so the SDK uses them without bundling the validation library.
 */

/** The format version batches carry as `v`. */
export const TELEMETRY_VERSION = 1
/** Reports are aligned to UTC minutes. */
export const WINDOW_MS = 60_000
/** The longest window one report may cover. */
export const MAX_WINDOW_MS = 60 * WINDOW_MS
