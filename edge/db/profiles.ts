import type { Profile } from '../../core/formats/profile.ts'
import { parseColumn } from './json.ts'

/** What telemetry needs to know about a reported model version. */
export interface VersionLookup {
  modelExists: boolean
  versionExists: boolean
  profile: Profile | null
  /** The names of the version's variants (reports may name only these); absent: it has none. */
  variants?: string[]
}

interface LookupRow {
  model_exists: number | null
  version_exists: number | null
  profile: string | null
  variants: string | null
}

/** Looks up several (model, version) pairs in one D1 round trip. */
export async function lookupVersions(
  db: D1Database,
  keys: readonly { model: string; version: number }[],
): Promise<VersionLookup[]> {
  if (keys.length === 0) return []
  const stmt = db.prepare(
    `SELECT (SELECT 1 FROM models WHERE name = ?1) AS model_exists,
            (SELECT 1 FROM versions WHERE model = ?1 AND version = ?2) AS version_exists,
            (SELECT profile FROM versions WHERE model = ?1 AND version = ?2) AS profile,
            (SELECT json_group_array(json_extract(v.value, '$.name')) FROM versions, json_each(versions.variants) v
              WHERE model = ?1 AND version = ?2 AND versions.variants IS NOT NULL) AS variants`,
  )
  const results = await db.batch<LookupRow>(keys.map((k) => stmt.bind(k.model, k.version)))
  return results.map(({ results: [row] }) => ({
    modelExists: row?.model_exists === 1,
    versionExists: row?.version_exists === 1,
    profile: parseColumn<Profile>(row?.profile ?? null),
    ...variantNames(row?.variants ?? null),
  }))
}

function variantNames(text: string | null): { variants?: string[] } {
  const names = parseColumn<string[]>(text)
  return names && names.length > 0 ? { variants: names } : {}
}
