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
