/** Points an alias at a version; guarded so it never points at a deprecated version, and a no-op when it already points there. */
export function upsertAlias(
  db: D1Database,
  a: { model: string; alias: string; version: number; at: number; by: string },
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO aliases (model, alias, version, updated_at, updated_by)
       SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM versions WHERE model = ?1 AND version = ?3 AND deprecated_at IS NULL)
       ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at, updated_by = excluded.updated_by
       WHERE aliases.version <> excluded.version`,
    )
    .bind(a.model, a.alias, a.version, a.at, a.by)
}

/** Where an alias points, as a statement to run first in a batch (its result row: `{version}`, none when unset). */
export function aliasVersion(db: D1Database, model: string, alias: string): D1PreparedStatement {
  return db.prepare('SELECT version FROM aliases WHERE model = ?1 AND alias = ?2').bind(model, alias)
}

/** The version an alias points at, or null. */
export async function getAlias(db: D1Database, model: string, alias: string): Promise<number | null> {
  const row = await db
    .prepare('SELECT version FROM aliases WHERE model = ?1 AND alias = ?2')
    .bind(model, alias)
    .first<{ version: number }>()
  return row?.version ?? null
}

/** Whether a model exists and where its `production` alias points (null: nowhere), in one query; null for an unknown model. */
export async function productionOf(db: D1Database, model: string): Promise<{ production: number | null } | null> {
  const row = await db
    .prepare(
      "SELECT a.version AS production FROM models m LEFT JOIN aliases a ON a.model = m.name AND a.alias = 'production' WHERE m.name = ?1",
    )
    .bind(model)
    .first<{ production: number | null }>()
  return row ? { production: row.production ?? null } : null
}
