/**
 * @module
 * D1 access to a model's cohort allow-list (`cohorts`) and its cohort pins (`cohort_pins`),
 * migration 0010. Writes are guarded statements to run in one batch with their audit event.
 */
import type { CohortPin } from '../../core/formats/cohort.ts'

interface CohortsRow {
  name: string
  labels: string
  updated_at: number
  updated_by: string
}

interface PinRow {
  cohort: string
  version: number
  pinned_at: number
  pinned_by: string
}

/** What the assign route needs: the accepted labels and the pinned ones. */
export interface CohortRouting {
  allowed: ReadonlySet<string>
  pins: ReadonlyMap<string, number>
}

/** A model's allow-list as stored, or null when it declares none. */
export async function getCohorts(
  db: D1Database,
  model: string,
): Promise<{ name: string; values: string[]; updatedAt: number; updatedBy: string } | null> {
  const row = await db.prepare('SELECT * FROM cohorts WHERE model = ?1').bind(model).first<CohortsRow>()
  return row
    ? {
        name: row.name,
        values: JSON.parse(row.labels) as string[],
        updatedAt: row.updated_at,
        updatedBy: row.updated_by,
      }
    : null
}

/** The SQL predicate true when no pinned cohort would leave the allow-list; its arguments name the parameters holding the model and the labels as JSON. */
export function keepsPinned(model: string, labels: string): string {
  return `NOT EXISTS (SELECT 1 FROM cohort_pins p WHERE p.model = ${model} AND p.cohort NOT IN (SELECT value FROM json_each(${labels})))`
}

/** Sets the allow-list, unless it would drop a pinned cohort (then it changes nothing). */
export function putCohorts(
  db: D1Database,
  c: { model: string; name: string; values: readonly string[]; at: number; by: string },
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO cohorts (model, name, labels, updated_at, updated_by) SELECT ?1, ?3, ?2, ?4, ?5 WHERE ${keepsPinned('?1', '?2')}
       ON CONFLICT (model) DO UPDATE SET name = excluded.name, labels = excluded.labels, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
    )
    .bind(c.model, JSON.stringify(c.values), c.name, c.at, c.by)
}

/** A model's pins, by cohort. */
export async function listPins(db: D1Database, model: string): Promise<CohortPin[]> {
  const { results } = await db
    .prepare('SELECT cohort, version, pinned_at, pinned_by FROM cohort_pins WHERE model = ?1 ORDER BY cohort')
    .bind(model)
    .all<PinRow>()
  return results.map((r) => ({ cohort: r.cohort, version: r.version, pinnedAt: r.pinned_at, pinnedBy: r.pinned_by }))
}

/** The version a cohort is pinned to, as a statement to run first in a batch (result row `{version}`, none when unpinned). */
export function pinVersion(db: D1Database, model: string, cohort: string): D1PreparedStatement {
  return db.prepare('SELECT version FROM cohort_pins WHERE model = ?1 AND cohort = ?2').bind(model, cohort)
}

/**
 * The SQL predicate under which a pin may be set: the version is live and the cohort is in the
 * allow-list. Its arguments name the SQL parameters holding model, version and cohort.
 */
export function pinnable(model: string, version: string, cohort: string): string {
  return `EXISTS (SELECT 1 FROM versions WHERE model = ${model} AND version = ${version} AND deprecated_at IS NULL) AND EXISTS (SELECT 1 FROM cohorts c, json_each(c.labels) l WHERE c.model = ${model} AND l.value = ${cohort})`
}

/** Pins a cohort to a version when `pinnable`; a no-op when it is already pinned there. */
export function upsertPin(
  db: D1Database,
  p: { model: string; cohort: string; version: number; at: number; by: string },
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO cohort_pins (model, cohort, version, pinned_at, pinned_by)
       SELECT ?1, ?2, ?3, ?4, ?5 WHERE ${pinnable('?1', '?3', '?2')}
       ON CONFLICT (model, cohort) DO UPDATE SET version = excluded.version, pinned_at = excluded.pinned_at, pinned_by = excluded.pinned_by
       WHERE cohort_pins.version <> excluded.version`,
    )
    .bind(p.model, p.cohort, p.version, p.at, p.by)
}

/** Removes a cohort's pin. */
export function deletePin(db: D1Database, model: string, cohort: string): D1PreparedStatement {
  return db.prepare('DELETE FROM cohort_pins WHERE model = ?1 AND cohort = ?2').bind(model, cohort)
}

const NO_COHORTS: CohortRouting = { allowed: new Set(), pins: new Map() }

/** The accepted labels and pins of a model in one query (empty when it declares no allow-list). */
export async function cohortRouting(db: D1Database, model: string): Promise<CohortRouting> {
  const row = await db
    .prepare(
      `SELECT c.labels AS labels, (SELECT json_group_object(cohort, version) FROM cohort_pins p WHERE p.model = ?1) AS pins
       FROM cohorts c WHERE c.model = ?1`,
    )
    .bind(model)
    .first<{ labels: string; pins: string | null }>()
  if (!row) return NO_COHORTS
  const pins = JSON.parse(row.pins ?? '{}') as Record<string, number>
  return { allowed: new Set(JSON.parse(row.labels) as string[]), pins: new Map(Object.entries(pins)) }
}

/** The cohorts among `cohorts` that are pinned, with their versions. */
export async function pinnedAmong(
  db: D1Database,
  model: string,
  cohorts: readonly string[],
): Promise<{ cohort: string; version: number }[]> {
  const { results } = await db
    .prepare(
      'SELECT cohort, version FROM cohort_pins WHERE model = ?1 AND cohort IN (SELECT value FROM json_each(?2)) ORDER BY cohort',
    )
    .bind(model, JSON.stringify(cohorts))
    .all<{ cohort: string; version: number }>()
  return results
}
