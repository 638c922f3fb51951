import type { Model } from '../../core/formats/registry.ts'
import type { Signature } from '../../core/formats/signature.ts'
import type { ModelFormat } from '../../core/formats/common.ts'
import { parseColumn } from './json.ts'

interface ModelRow {
  name: string
  task: string
  format: ModelFormat
  signature: string | null
  description: string
  created_at: number
  created_by: string
  latest_version: number | null
  aliases: string | null
}

const SELECT_MODEL = `
  SELECT m.*,
    (SELECT MAX(version) FROM versions v WHERE v.model = m.name) AS latest_version,
    (SELECT json_group_object(alias, version) FROM aliases a WHERE a.model = m.name) AS aliases
  FROM models m`

function toModel(row: ModelRow): Model {
  return {
    name: row.name,
    task: row.task,
    format: row.format,
    signature: parseColumn<Signature>(row.signature),
    description: row.description,
    createdAt: row.created_at,
    createdBy: row.created_by,
    latestVersion: row.latest_version,
    aliases: parseColumn<Record<string, number>>(row.aliases) ?? {},
  }
}

/** Inserts a model; fails on the primary key when the name exists (the caller maps it to 409). */
export function insertModel(
  db: D1Database,
  m: {
    name: string
    task: string
    format: ModelFormat
    signature?: Signature
    description: string
    createdAt: number
    createdBy: string
  },
): D1PreparedStatement {
  return db
    .prepare(
      'INSERT INTO models (name, task, format, signature, description, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)',
    )
    .bind(
      m.name,
      m.task,
      m.format,
      m.signature ? JSON.stringify(m.signature) : null,
      m.description,
      m.createdAt,
      m.createdBy,
    )
}

/** One model with its latest version number and aliases. */
export async function getModel(db: D1Database, name: string): Promise<Model | null> {
  const row = await db.prepare(`${SELECT_MODEL} WHERE m.name = ?1`).bind(name).first<ModelRow>()
  return row ? toModel(row) : null
}

/** A page of models by name, after the name `after`; `next` names the page's last model when more follow. */
export async function listModels(
  db: D1Database,
  q: { after?: string; limit: number },
): Promise<{ models: Model[]; next: string | null; hasMore: boolean }> {
  const { results } = await db
    .prepare(`${SELECT_MODEL} WHERE m.name > ?1 ORDER BY m.name LIMIT ?2`)
    .bind(q.after ?? '', q.limit + 1)
    .all<ModelRow>()
  const models = results.slice(0, q.limit).map(toModel)
  const hasMore = results.length > q.limit
  return { models, next: hasMore ? models[models.length - 1]!.name : null, hasMore }
}

/** Whether a model exists (one indexed lookup: routes ask before touching the model's Durable Objects). */
export async function modelExists(db: D1Database, name: string): Promise<boolean> {
  return (await db.prepare('SELECT 1 AS one FROM models WHERE name = ?1').bind(name).first()) !== null
}
