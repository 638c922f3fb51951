/**
 * A byte count for people, in SI units: `812 B`, `17.1 kB`, `2.33 MB`.
 *
 * @example formatBytes(2_327_524) // '2.33 MB'
 */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let x = n
  let i = -1
  while (x >= 1000 && i < units.length - 1) {
    x /= 1000
    i++
  }
  return `${x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)} ${units[i]}`
}

/** A time for tables: ISO 8601 in UTC to the second (`2026-04-26T04:45:21Z`). */
export function formatTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** `1 file`, `2 files`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

/** A statistic to four significant digits, exponent notation for the very small or large; null is `-`. */
export function formatStat(x: number | null): string {
  if (x === null) return '-'
  if (x === 0) return '0'
  return Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5 ? x.toExponential(2) : x.toPrecision(4)
}

/** A p-value to four decimals, or exponent notation below 1e-3 (where four decimals keep one digit or none). */
export function formatPValue(x: number | null): string {
  if (x === null) return '-'
  return x < 1e-3 ? x.toExponential(1) : x.toFixed(4)
}

/** A proportion as a percentage with one decimal (`5.0%`), or `digits` of them; null is `-`. */
export function formatRate(x: number | null, digits = 1): string {
  return x === null ? '-' : `${(x * 100).toFixed(digits)}%`
}

/** Milliseconds to three significant digits, whole from 1 s up (`2.59 ms`, `205 ms`, `1234 ms`). */
export function formatMs(x: number): string {
  return `${x >= 1000 ? Math.round(x) : x.toPrecision(3)} ms`
}

/** A duration for people: `90 s`, `30 min`, `1 h`, `2 d`. */
export function formatMinutes(minutes: number): string {
  if (minutes % 1440 === 0 && minutes > 0) return `${minutes / 1440} d`
  if (minutes % 60 === 0 && minutes > 0) return `${minutes / 60} h`
  return `${minutes} min`
}

/** An offline metric to four significant digits without trailing zeros: `0.7104`, `0.9`, `1234`. */
export function formatMetric(x: number): string {
  if (!Number.isFinite(x)) return String(x)
  return Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : String(Number(x.toPrecision(4)))
}
