import type { ModelFormat } from '../../core/formats/common.ts'
import type { HfDtype, HfFileRole } from '../../core/formats/hf.ts'
import type { ModelInterface } from '../../core/formats/interface.ts'
import type { Profile } from '../../core/formats/profile.ts'
import type { Lineage } from '../../core/formats/registry.ts'
import type { Signature } from '../../core/formats/signature.ts'
import type { SigstoreBundle } from '../../core/formats/sigstore-bundle.ts'
import type { Variant } from '../../core/formats/variants.ts'
import { insertEvent } from './events.ts'
import { parseColumn } from './json.ts'

/** A stored version as the registry keeps it (file URLs are added per request). */
export interface VersionRecord {
  model: string
  version: number
  format: ModelFormat
  files: { path: string; sha256: string; size: number; role?: HfFileRole; dtype?: HfDtype }[]
  signature: Signature | null
  profile: Profile | null
  interface: ModelInterface | null
  sigstoreBundle: SigstoreBundle | null
  /** The version's variants in publish order, or null when it has none. */
  variants: Variant[] | null
  metrics: Record<string, number>
  lineage: Lineage & { createdBy: string; createdAt: number }
  deprecatedAt: number | null
  aliases: string[]
}

interface VersionRow {
  model: string
  version: number
  format: ModelFormat
  files: string
  signature: string | null
  profile: string | null
  interface: string | null
  sigstore_bundle: string | null
  variants: string | null
  metrics: string
  lineage: string
  created_at: number
  created_by: string
  deprecated_at: number | null
  aliases: string | null
}

const SELECT_VERSION = `
  SELECT v.*, m.format,
    (SELECT json_group_array(alias) FROM aliases a WHERE a.model = v.model AND a.version = v.version) AS aliases
  FROM versions v JOIN models m ON m.name = v.model`

function toRecord(row: VersionRow): VersionRecord {
  return {
    model: row.model,
    version: row.version,
    format: row.format,
    files: JSON.parse(row.files),
    signature: parseColumn<Signature>(row.signature),
    profile: parseColumn<Profile>(row.profile),
    interface: parseColumn<ModelInterface>(row.interface),
    sigstoreBundle: parseColumn<SigstoreBundle>(row.sigstore_bundle),
    variants: parseColumn<Variant[]>(row.variants),
    metrics: JSON.parse(row.metrics),
    lineage: { ...JSON.parse(row.lineage), createdBy: row.created_by, createdAt: row.created_at },
    deprecatedAt: row.deprecated_at,
    aliases: (parseColumn<string[]>(row.aliases) ?? []).sort(),
  }
}

/**
 * Inserts the next version of a model in one statement: the number is `MAX(version) + 1` computed
 * inside the INSERT, so concurrent publishes (D1 serializes writes) get 1 and 2, never the same.
 */
export function insertNextVersion(
  db: D1Database,
  v: {
    model: string
    files: VersionRecord['files']
    signature: Signature | null
    profile: Profile | null
    interface: ModelInterface | null
    sigstoreBundle: SigstoreBundle | null
    variants?: Variant[] | null
    metrics: Record<string, number>
    lineage: Lineage
    createdAt: number
    createdBy: string
  },
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO versions (model, version, files, signature, profile, metrics, lineage, created_at, created_by, interface, sigstore_bundle, variants)
       SELECT ?1, COALESCE(MAX(version), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 FROM versions WHERE model = ?1
       RETURNING version`,
    )
    .bind(
      v.model,
      JSON.stringify(v.files),
      v.signature ? JSON.stringify(v.signature) : null,
      v.profile ? JSON.stringify(v.profile) : null,
      JSON.stringify(v.metrics),
      JSON.stringify(v.lineage),
      v.createdAt,
      v.createdBy,
      v.interface ? JSON.stringify(v.interface) : null,
      v.sigstoreBundle ? JSON.stringify(v.sigstoreBundle) : null,
      v.variants ? JSON.stringify(v.variants) : null,
    )
}

/** The newest version of a model (deprecated or not), or null when it has none. */
export async function latestVersion(db: D1Database, model: string): Promise<VersionRecord | null> {
  const row = await db
    .prepare(`${SELECT_VERSION} WHERE v.model = ?1 ORDER BY v.version DESC LIMIT 1`)
    .bind(model)
    .first<VersionRow>()
  return row ? toRecord(row) : null
}

/** One version with its aliases. */
export async function getVersion(db: D1Database, model: string, version: number): Promise<VersionRecord | null> {
  const row = await db
    .prepare(`${SELECT_VERSION} WHERE v.model = ?1 AND v.version = ?2`)
    .bind(model, version)
    .first<VersionRow>()
  return row ? toRecord(row) : null
}

/** Every version of a model, newest first, without profiles (they can be large). */
export async function listVersions(db: D1Database, model: string): Promise<Omit<VersionRecord, 'profile'>[]> {
  const { results } = await db
    .prepare(
      `${SELECT_VERSION.replace('v.*', 'v.model, v.version, v.files, v.signature, NULL AS profile, v.interface, NULL AS sigstore_bundle, NULL AS variants, v.metrics, v.lineage, v.created_at, v.created_by, v.deprecated_at')} WHERE v.model = ?1 ORDER BY v.version DESC`,
    )
    .bind(model)
    .all<VersionRow>()
  return results.map(toRecord)
}

/**
 * Marks a version deprecated unless an alias still points at it (the caller checks `changes`); the
 * first deprecation time is kept.
 */
/**
 * Deprecates a version and records its `version.deprecated` event in one batch, only while no alias
 * points at it and it is not deprecated yet: true when this call changed it.
 */
export async function deprecateWithEvent(
  db: D1Database,
  model: string,
  version: number,
  actor: string,
  at: number,
): Promise<boolean> {
  const guard =
    'NOT EXISTS (SELECT 1 FROM aliases WHERE model = ?7 AND version = ?8) AND NOT EXISTS (SELECT 1 FROM cohort_pins WHERE model = ?7 AND version = ?8) AND EXISTS (SELECT 1 FROM versions WHERE model = ?7 AND version = ?8 AND deprecated_at IS NULL)'
  const [event] = await db.batch([
    insertEvent(
      db,
      { type: 'version.deprecated', model, actor, at, details: { version } },
      { when: guard, args: [model, version] },
    ),
    deprecateVersion(db, model, version, at),
  ])
  return event.meta.changes > 0
}

/** Versions of `model` among `versions` that are deprecated. */
export async function deprecatedAmong(db: D1Database, model: string, versions: readonly number[]): Promise<number[]> {
  const { results } = await db
    .prepare(
      `SELECT version FROM versions WHERE model = ?1 AND deprecated_at IS NOT NULL AND version IN (SELECT value FROM json_each(?2)) ORDER BY version`,
    )
    .bind(model, JSON.stringify(versions))
    .all<{ version: number }>()
  return results.map((r) => r.version)
}

export function deprecateVersion(db: D1Database, model: string, version: number, at: number): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE versions SET deprecated_at = COALESCE(deprecated_at, ?3) WHERE model = ?1 AND version = ?2
       AND NOT EXISTS (SELECT 1 FROM aliases WHERE model = ?1 AND version = ?2)
       AND NOT EXISTS (SELECT 1 FROM cohort_pins WHERE model = ?1 AND version = ?2)`,
    )
    .bind(model, version, at)
}
