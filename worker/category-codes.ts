import { categoryIndex, categoryLookup, type CategoryLookup } from '../core/profile/bin.ts'
import { categoryKey } from '../core/profile/values.ts'

/**
 * Category positions for the hot path. Same answer as core's `categoryIndex(lookup, categoryKey(v))`,
 * but a number is looked up as a number: `categoryKey(7)` would allocate the string "7" on every
 * value. Exact because `String(v) === c` ⇔ `Number(c) === v` for finite v and categories c with
 * `String(Number(c)) === c` (the only ones a number can match; -0 and 0 meet as Map keys and as "0").
 */
export class CategoryCodes {
  /** The position of unlisted categories (`__other__` in a profile), `categories.length`. */
  readonly other: number
  readonly #lookup: CategoryLookup
  readonly #numbers = new Map<number, number>()

  constructor(categories: readonly string[]) {
    this.#lookup = categoryLookup(categories)
    this.other = categories.length
    categories.forEach((c, i) => {
      const n = Number(c)
      if (c.trim() !== '' && String(n) === c && !this.#numbers.has(n)) this.#numbers.set(n, i)
    })
  }

  /** The category's position, `other` when unlisted, -1 when missing (see core/profile/values.ts). */
  code(value: unknown): number {
    // The common case first: a listed string is itself its key (core's categoryKey returns it as is).
    if (typeof value === 'string') return this.#lookup.index.get(value) ?? (value.trim() === '' ? -1 : this.other)
    if (typeof value === 'number') return Number.isFinite(value) ? (this.#numbers.get(value) ?? this.other) : -1
    const key = categoryKey(value)
    return key === undefined ? -1 : categoryIndex(this.#lookup, key)
  }
}
