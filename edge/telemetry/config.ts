import { DEVICE_CAP_FACTOR } from '../../core/telemetry/device-caps.ts'

/** Telemetry settings from the Worker's vars (wrangler.toml `[vars]`), with the documented defaults. */
export interface TelemetryConfig {
  /** TelemetryShard objects per model. */
  shards: number
  /** Reports whose window starts more than this before now are refused (`too_old`). */
  horizonMs: number
  /** Reports whose window ends more than this after now are refused (`too_new`). */
  futureMs: number
  /** Minute aggregates older than this are rolled up into hours. */
  rollupAfterMs: number
  /** Aggregates are deleted this long after their bucket starts. */
  retentionMs: number
  /** Per-device rows (rollout guardrails) are deleted this long after their bucket starts. */
  deviceRetentionMs: number
  /** k of k-anonymity: cohorts and points seen on fewer distinct devices are suppressed. */
  minDevices: number
  /** No device weighs more than this many times its cohort's median device in fleet statistics. */
  deviceCapFactor: number
  /** Webhook deliveries before a `webhook.failed` event. */
  webhookMaxAttempts: number
}

type TelemetryVar =
  | 'TELEMETRY_SHARDS'
  | 'TELEMETRY_HORIZON_HOURS'
  | 'TELEMETRY_ROLLUP_AFTER_HOURS'
  | 'TELEMETRY_RETENTION_DAYS'
  | 'TELEMETRY_DEVICE_RETENTION_DAYS'
  | 'TELEMETRY_MIN_DEVICES'
  | 'TELEMETRY_DEVICE_CAP'
  | 'WEBHOOK_MAX_ATTEMPTS'

const HOUR = 3_600_000
const DAY = 24 * HOUR

/** Most shards a model may have: a fleet read makes one subrequest per shard (docs/telemetry.md). */
export const MAX_SHARDS = 256

/** The configuration in `env`; a missing or malformed var falls back to its default. */
export function telemetryConfig(env: Partial<Record<TelemetryVar, unknown>>): TelemetryConfig {
  return {
    shards: int(env.TELEMETRY_SHARDS, 4, 1, MAX_SHARDS),
    horizonMs: int(env.TELEMETRY_HORIZON_HOURS, 48, 1, 24 * 30) * HOUR,
    futureMs: 5 * 60_000,
    rollupAfterMs: int(env.TELEMETRY_ROLLUP_AFTER_HOURS, 24, 1, 24 * 365) * HOUR,
    retentionMs: int(env.TELEMETRY_RETENTION_DAYS, 30, 1, 3650) * DAY,
    deviceRetentionMs: int(env.TELEMETRY_DEVICE_RETENTION_DAYS, 7, 1, 3650) * DAY,
    minDevices: int(env.TELEMETRY_MIN_DEVICES, 5, 1, 1_000_000),
    deviceCapFactor: int(env.TELEMETRY_DEVICE_CAP, DEVICE_CAP_FACTOR, 1, 1_000_000),
    webhookMaxAttempts: int(env.WEBHOOK_MAX_ATTEMPTS, 8, 1, 100),
  }
}

function int(value: unknown, fallback: number, min: number, max: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
  return Number.isInteger(n) && n >= min && n <= max ? n : fallback
}
