import type { Scope, Token } from '../../core/formats/registry.ts'
import { parseColumn } from './json.ts'

interface TokenRow {
  id: string
  name: string
  scopes: string
  origins: string | null
  created_at: number
  created_by: string
  last_used_at: number | null
  revoked_at: number | null
}

/** Row → the public token resource (never the secret or its hash). */
export function toToken(row: TokenRow): Token {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as Scope[],
    origins: parseColumn<string[]>(row.origins),
    createdAt: row.created_at,
    createdBy: row.created_by,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  }
}

/** Inserts a token; only the secret's hash is stored. */
export function insertToken(
  db: D1Database,
  t: Omit<Token, 'lastUsedAt' | 'revokedAt'>,
  secretHash: string,
): D1PreparedStatement {
  return db
    .prepare(
      'INSERT INTO tokens (id, name, scopes, origins, secret_hash, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)',
    )
    .bind(
      t.id,
      t.name,
      JSON.stringify(t.scopes),
      t.origins ? JSON.stringify(t.origins) : null,
      secretHash,
      t.createdAt,
      t.createdBy,
    )
}

/** The live (not revoked) token whose secret hashes to `secretHash`. */
export async function findLiveToken(db: D1Database, secretHash: string): Promise<Token | null> {
  const row = await db
    .prepare('SELECT * FROM tokens WHERE secret_hash = ?1 AND revoked_at IS NULL')
    .bind(secretHash)
    .first<TokenRow>()
  return row ? toToken(row) : null
}

/** Every token, newest first, revoked ones included. */
export async function listTokens(db: D1Database): Promise<Token[]> {
  const { results } = await db.prepare('SELECT * FROM tokens ORDER BY created_at DESC, id').all<TokenRow>()
  return results.map(toToken)
}

/** One token by id. */
export async function getToken(db: D1Database, id: string): Promise<Token | null> {
  const row = await db.prepare('SELECT * FROM tokens WHERE id = ?1').bind(id).first<TokenRow>()
  return row ? toToken(row) : null
}

/** Marks a token revoked (idempotent: the first revocation time is kept). */
export function revokeToken(db: D1Database, id: string, at: number): D1PreparedStatement {
  return db.prepare('UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1').bind(id, at)
}

/** Records use, at most once a minute per token so reads stay reads. */
export function touchToken(db: D1Database, id: string, at: number): Promise<unknown> {
  return db
    .prepare(
      'UPDATE tokens SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2 - 60000)',
    )
    .bind(id, at)
    .run()
}
