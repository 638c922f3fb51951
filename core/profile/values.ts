/**
 * What counts as a value and what counts as missing, in one place so the profile builder, the CLI
 * and devices agree: a missing value is null, undefined, an empty (or blank) string, NaN, ±Infinity,
 * or a value of the wrong type for the column (a string in a numeric column, an object anywhere).
 */

/** The number a numeric feature sees, or undefined when `v` is missing (anything but a finite number). */
export function numericValue(v: unknown): number | undefined {
  // Infinity is missing too: it has a bin (overflow) but no mean or std, and no real sensor emits it.
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

/**
 * The category a categorical feature sees, or undefined when `v` is missing: strings as they are,
 * finite numbers and booleans as their JavaScript string form (`1` → `"1"`, `0.5` → `"0.5"`).
 */
export function categoryKey(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() === '' ? undefined : v
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined
  if (typeof v === 'boolean') return String(v)
  return undefined
}
