import { EdgefleetError } from '../errors.ts'
import { categoryKey, numericValue } from './values.ts'

/**
 * Column type inference for raw tabular data (`edgefleet profile`, `edgefleet drift`), per DESIGN:
 *
 * 1. `ignore` drops a column; with `features` given, only those (and `outputs`) are kept.
 * 2. `categorical` forces a column categorical.
 * 3. Otherwise a column is numeric when finite numbers are the majority of its non-missing values
 *    (the rest then count as missing, wrong type), else categorical (numbers and booleans become
 *    their string forms). A numeric column with ≤ 5 distinct values is categorical.
 * 4. Columns that look like ids or timestamps are skipped unless named in `features`, `outputs`
 *    or `categorical`: an id-like name (`id`, `uuid`, `guid`, `*_id`, `*Id`, `*_uuid`), strings that
 *    are all ISO 8601 dates or date-times (`2012-01-01`, `2012-01-01T08:00:00Z`), a numeric column
 *    with a timestamp-like name (`timestamp`, `ts`, `epoch`, `*_at`, `*_ts`, `*_timestamp`), or at
 *    least 20 strings that are all distinct (a key, not a category).
 * 5. A column with no values at all is skipped (its type cannot be known).
 */

/** A numeric column with at most this many distinct values is treated as categorical. */
export const MAX_NUMERIC_CATEGORIES = 5

/** All-distinct string columns with at least this many values are taken for keys, not categories. */
export const MIN_UNIQUE_KEY_ROWS = 20

/** How a profiled column is binned. */
export type ColumnType = 'numeric' | 'categorical'
/** Where a profiled column goes: `features` (model inputs) or `outputs`. */
export type ColumnRole = 'feature' | 'output'
/** Why a column is not profiled. */
export type SkipReason = 'ignored' | 'unselected' | 'id' | 'timestamp' | 'unique' | 'empty'

/** How one column is profiled. */
export interface ColumnPlan {
  name: string
  role: ColumnRole
  type: ColumnType
}

/** What inference decided for every column: profiled ones in column order, and the skipped with why. */
export interface ColumnInference {
  columns: ColumnPlan[]
  skipped: { name: string; reason: SkipReason }[]
}

/** Column selection and type overrides (all by column name). */
export interface InferOptions {
  categorical?: readonly string[]
  ignore?: readonly string[]
  outputs?: readonly string[]
  /** When given, exactly these columns are input features (never skipped as ids or timestamps). */
  features?: readonly string[]
}

// A separator or a camelCase capital is required, so words that end in "id" (humid, paid) are not ids.
const ID_NAME = /^(id|uuid|guid)$|[_\-\s](id|uuid|guid)$/i
const CAMEL_ID = /[a-z0-9](Id|ID|Uuid|UUID|Guid|GUID)$/
const TIMESTAMP_NAME = /^(timestamp|ts|epoch|epoch_ms|unix_time)$|_(at|ts|timestamp|epoch)$/i
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/

/** Every key that appears in `records`, in first-seen order. */
export function columnNames(records: readonly Record<string, unknown>[]): string[] {
  const seen = new Set<string>()
  for (const r of records) for (const k of Object.keys(r)) seen.add(k)
  return [...seen]
}

/** True when a column name reads as an identifier (`id`, `user_id`, `userId`, `uuid`). */
export function looksLikeIdName(name: string): boolean {
  return ID_NAME.test(name) || CAMEL_ID.test(name)
}

/** Decides, for every column of `records`, whether and how it is profiled (rules above). */
export function inferColumns(records: readonly Record<string, unknown>[], options: InferOptions = {}): ColumnInference {
  const names = columnNames(records)
  const present = new Set(names)
  for (const [flag, list] of [
    ['categorical', options.categorical],
    ['outputs', options.outputs],
    ['features', options.features],
  ] as const)
    for (const name of list ?? [])
      if (!present.has(name)) throw new EdgefleetError('validation_failed', `--${flag}: no column named "${name}"`)
  const ignore = new Set(options.ignore)
  const categorical = new Set(options.categorical)
  const outputs = new Set(options.outputs)
  const features = options.features === undefined ? undefined : new Set(options.features)
  const result: ColumnInference = { columns: [], skipped: [] }
  for (const name of names) {
    if (ignore.has(name)) {
      result.skipped.push({ name, reason: 'ignored' })
      continue
    }
    const role: ColumnRole = outputs.has(name) ? 'output' : 'feature'
    if (role === 'feature' && features !== undefined && !features.has(name)) {
      result.skipped.push({ name, reason: 'unselected' })
      continue
    }
    const named = categorical.has(name) || outputs.has(name) || features?.has(name) === true
    const decided = decideColumn(name, records, named, categorical.has(name))
    if ('type' in decided) result.columns.push({ name, role, type: decided.type })
    else if (decided.skip === 'empty' && named) throw new EdgefleetError('empty_data', `column "${name}" has no values`)
    else result.skipped.push({ name, reason: decided.skip })
  }
  return result
}

type Decision = { type: ColumnType } | { skip: SkipReason }

function decideColumn(
  name: string,
  records: readonly Record<string, unknown>[],
  named: boolean,
  forceCategorical: boolean,
): Decision {
  if (!named && looksLikeIdName(name)) return { skip: 'id' }
  let numbers = 0
  let others = 0
  let isoDates = 0
  const distinctNumbers = new Set<number>()
  const distinctStrings = new Set<string>()
  for (const r of records) {
    const v = r[name]
    if (numericValue(v) !== undefined) {
      numbers++
      // Only "≤ 5 or more?" matters, so stop remembering after 6.
      if (distinctNumbers.size <= MAX_NUMERIC_CATEGORIES) distinctNumbers.add(v as number)
    } else {
      const key = categoryKey(v)
      if (key === undefined) continue
      others++
      if (typeof v === 'string') {
        distinctStrings.add(key)
        if (ISO_DATE.test(key)) isoDates++
      }
    }
  }
  if (numbers + others === 0) return { skip: 'empty' }
  if (forceCategorical) return { type: 'categorical' }
  if (numbers > others) {
    if (!named && TIMESTAMP_NAME.test(name)) return { skip: 'timestamp' }
    return { type: distinctNumbers.size <= MAX_NUMERIC_CATEGORIES ? 'categorical' : 'numeric' }
  }
  if (!named && isoDates === others) return { skip: 'timestamp' }
  if (!named && others >= MIN_UNIQUE_KEY_ROWS && distinctStrings.size === others) return { skip: 'unique' }
  return { type: 'categorical' }
}
