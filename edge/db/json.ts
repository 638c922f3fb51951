/** Parses a JSON column, or null for SQL NULL. */
export function parseColumn<T>(value: unknown): T | null {
  return value === null || value === undefined ? null : (JSON.parse(value as string) as T)
}
