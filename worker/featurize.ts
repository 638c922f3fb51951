import { EdgefleetError } from '../core/errors.ts'
import type { Signature } from '../core/formats/signature.ts'
import { numericValue } from '../core/profile/values.ts'
import { CategoryCodes } from './category-codes.ts'
import type { ModelInput } from './protocol.ts'

/** A signature of kind `tabular`. */
export type TabularSignature = Extract<Signature, { kind: 'tabular' }>

type Column =
  | { kind: 'numeric'; name: string; offset: number; fill: number; shift: number; scale: number }
  | { kind: 'onehot' | 'index'; name: string; offset: number; codes: CategoryCodes }

/** How records become one float32 row each, worked out once per model. */
export interface FeaturePlan {
  /** Floats per row. */
  readonly width: number
  readonly columns: readonly Column[]
}

/**
 * The plan for a tabular signature, columns in declared order: a numeric feature is one column,
 * `(x − shift) · scale` (standardize: shift mean, scale 1/std; minmax: shift min, scale 1/(max − min));
 * a categorical one is `categories.length` one-hot columns or one index column.
 */
export function planFeatures(signature: TabularSignature): FeaturePlan {
  const columns: Column[] = []
  let offset = 0
  for (const f of signature.features) {
    if (f.type === 'numeric') {
      const t = f.transform
      const shift = t === undefined ? 0 : t.kind === 'standardize' ? t.mean : t.min
      const scale = t === undefined ? 1 : t.kind === 'standardize' ? 1 / t.std : 1 / (t.max - t.min)
      // Signature: a missing value becomes `fill` before scaling, by default the transform's centre.
      const centre = t === undefined ? 0 : t.kind === 'standardize' ? t.mean : (t.min + t.max) / 2
      columns.push({ kind: 'numeric', name: f.name, offset, fill: f.fill ?? centre, shift, scale })
      offset += 1
    } else {
      const kind = f.encoding ?? 'onehot'
      columns.push({ kind, name: f.name, offset, codes: new CategoryCodes(f.categories) })
      offset += kind === 'onehot' ? f.categories.length : 1
    }
  }
  return { width: offset, columns }
}

/**
 * Records → one `[records.length, width]` float32 matrix, row-major. Missing numbers take `fill`;
 * unknown or missing categories encode as all zeros (one-hot) or -1 (index).
 *
 * @example featurize(planFeatures(sig), [{ temp_max: 14.2, weather: 'sun' }])
 */
export function featurize(plan: FeaturePlan, records: readonly ModelInput[], pointer = '/inputs'): Float32Array {
  const out = new Float32Array(records.length * plan.width)
  for (let r = 0; r < records.length; r++) {
    const record = records[r]
    if (typeof record !== 'object' || record === null || Array.isArray(record))
      throw new EdgefleetError('bad_request', 'a tabular model takes one object per record', {
        pointer: `${pointer}/${r}`,
      })
    const row = r * plan.width
    for (const c of plan.columns) {
      const value = record[c.name]
      if (c.kind === 'numeric') {
        out[row + c.offset] = ((numericValue(value) ?? c.fill) - c.shift) * c.scale
      } else {
        const code = c.codes.code(value)
        const known = code >= 0 && code < c.codes.other
        if (c.kind === 'index') out[row + c.offset] = known ? code : -1
        else if (known) out[row + c.offset + code] = 1
      }
    }
  }
  return out
}
