import { EdgefleetError } from '../errors.ts'

/**
 * Throws `validation_failed` for count vectors no drift metric can use: different lengths, negative or
 * non-finite entries. Every metric checks the same way, so every entry point fails the same way.
 */
export function assertCounts(ref: ArrayLike<number>, cur: ArrayLike<number>): void {
  if (ref.length !== cur.length) {
    throw new EdgefleetError(
      'validation_failed',
      `count vectors differ in length: reference ${ref.length}, current ${cur.length}`,
    )
  }
  for (const [side, counts] of [
    ['reference', ref],
    ['current', cur],
  ] as const) {
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i]
      if (!(c >= 0) || c === Number.POSITIVE_INFINITY) {
        throw new EdgefleetError(
          'validation_failed',
          `${side} count ${i} must be a finite non-negative number, got ${c}`,
          { pointer: `/${side}/${i}` },
        )
      }
    }
  }
}
