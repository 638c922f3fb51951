import { EdgefleetError } from '../errors.ts'

/**
 * An ascending copy of a raw sample for the two-sample statistics; throws `validation_failed` when it
 * is empty or holds a non-finite value (NaN has no place in an order; missing values are counted
 * separately by the profile, never passed in).
 */
export function sortedSample(values: ArrayLike<number>, name: string): Float64Array {
  if (values.length === 0)
    throw new EdgefleetError('validation_failed', `sample ${name} is empty`, { pointer: `/${name}` })
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new EdgefleetError('validation_failed', `sample ${name}[${i}] is not a finite number: ${values[i]}`, {
        pointer: `/${name}/${i}`,
      })
    }
  }
  // Typed-array sort is numeric (no string comparison) and faster than Array#sort with a comparator.
  return Float64Array.from(values).sort()
}
