import { lookupVersions, type VersionLookup } from '../db/profiles.ts'

/** Versions kept per isolate; each holds a profile of a few KB. */
const MAX_CACHED = 512
/** An unknown version is remembered this long (it may be published a moment later). */
const MISS_TTL_MS = 5_000

const known = new Map<string, Pick<VersionLookup, 'profile' | 'variants'>>()
const missing = new Map<string, { lookup: VersionLookup; until: number }>()

/**
 * The registry's answer for each (model, version): existence and the version's profile. Versions
 * are immutable, so a found version is cached in the isolate for good (least recently used evicted
 * beyond MAX_CACHED); misses for MISS_TTL_MS. Cache misses are fetched in one D1 batch.
 */
export async function versionProfiles(
  db: D1Database,
  keys: readonly { model: string; version: number }[],
  now = Date.now(),
): Promise<Map<string, VersionLookup>> {
  const out = new Map<string, VersionLookup>()
  const wanted: { model: string; version: number }[] = []
  for (const k of keys) {
    const id = versionId(k.model, k.version)
    if (out.has(id)) continue
    if (known.has(id)) {
      const version = known.get(id)!
      known.delete(id) // re-insert: Map order doubles as recency
      known.set(id, version)
      out.set(id, { modelExists: true, versionExists: true, ...version })
      continue
    }
    const miss = missing.get(id)
    if (miss && miss.until > now) {
      out.set(id, miss.lookup)
      continue
    }
    out.set(id, { modelExists: false, versionExists: false, profile: null }) // placeholder, filled below
    wanted.push(k)
  }
  const found = await lookupVersions(db, wanted)
  wanted.forEach((k, i) => {
    const id = versionId(k.model, k.version)
    const lookup = found[i]
    out.set(id, lookup)
    if (lookup.versionExists) {
      known.set(id, { profile: lookup.profile, ...(lookup.variants ? { variants: lookup.variants } : {}) })
      if (known.size > MAX_CACHED) known.delete(known.keys().next().value!)
    } else missing.set(id, { lookup, until: now + MISS_TTL_MS })
  })
  if (missing.size > MAX_CACHED) for (const [id, m] of missing) if (m.until <= now) missing.delete(id)
  return out
}

/** The cache key of a model version. */
export function versionId(model: string, version: number): string {
  return `${model}@${version}`
}
