import { InvalidArgumentError } from 'commander'

/** Commander parser for a version number: `3` or `v3`. */
export function versionArgument(value: string): number {
  const m = /^v?(\d{1,15})$/.exec(value.trim())
  const n = m === null ? NaN : Number(m[1])
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a version number such as 3 or v3')
  return n
}

/** Commander parser for repeatable `--metric name=value` flags, collected into a record. */
export function metricOption(value: string, previous: Record<string, number> = {}): Record<string, number> {
  const m = /^([^=]{1,64})=(.+)$/.exec(value)
  const x = m === null ? NaN : Number(m[2])
  if (m === null || !Number.isFinite(x) || m[2].trim() === '')
    throw new InvalidArgumentError('expected name=number, e.g. accuracy=0.91')
  return { ...previous, [m[1].trim()]: x }
}

/** Commander parser for a duration in seconds: a positive number up to an hour (`2`, `0.5`). */
export function secondsOption(value: string): number {
  const x = Number(value)
  if (value.trim() === '' || !Number.isFinite(x) || x <= 0 || x > 3600)
    throw new InvalidArgumentError('expected seconds, a number from 0 (exclusive) to 3600')
  return x
}
