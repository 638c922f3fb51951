import { EdgefleetError } from '../../core/errors.ts'
import { modelExists } from '../db/models.ts'

/**
 * 404 `not_found` for a model that does not exist. Routes ask before they touch the model's Durable
 * Objects, which a call would create.
 */
export async function requireModel(db: D1Database, model: string): Promise<void> {
  if (!(await modelExists(db, model))) throw new EdgefleetError('not_found', `model "${model}" does not exist`)
}
