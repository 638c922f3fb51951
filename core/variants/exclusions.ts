/**
 * @module
 * The `exclude` parameter of the assign URL: the variants a device found broken, as `<version>:<name>`
 * pairs (`exclude=3:fp16,3:q8`). Each pair names its version, so a variant that failed in v3 is tried
 * again in v4, where it is a different build.
 */
import type { VariantExclusion } from '../formats/variants.ts'

/** The pattern of a whole `exclude` value: 1 to 16 comma-separated `<version>:<name>` pairs. */
export const EXCLUDE_PATTERN = /^[1-9]\d{0,8}:[a-z0-9][a-z0-9_-]{0,31}(,[1-9]\d{0,8}:[a-z0-9][a-z0-9_-]{0,31}){0,15}$/

/** Most pairs one request carries (older versions' pairs are dropped first). */
export const MAX_EXCLUSIONS = 16

/** The `exclude` value for `exclusions`, newest versions kept when there are too many (empty string: none). */
export function encodeExclusions(exclusions: readonly VariantExclusion[]): string {
  return [...exclusions]
    .sort((a, b) => b.version - a.version)
    .slice(0, MAX_EXCLUSIONS)
    .map((e) => `${e.version}:${e.variant}`)
    .join(',')
}

/** Parses a value matching `EXCLUDE_PATTERN` (anything else is no exclusions). */
export function decodeExclusions(text: string | undefined): VariantExclusion[] {
  if (text === undefined || !EXCLUDE_PATTERN.test(text)) return []
  return text.split(',').map((pair) => {
    const [version, variant] = pair.split(':', 2)
    return { version: Number(version), variant }
  })
}

/** The names excluded for `version`. */
export function excludedFor(exclusions: readonly VariantExclusion[], version: number): Set<string> {
  return new Set(exclusions.filter((e) => e.version === version).map((e) => e.variant))
}
