/**
 * @module
 * `split/1`: the retrainer's deterministic, stratified train/holdout split. The same labels, share and
 * seed give the same split in every runtime and release (mulberry32 and a Fisher–Yates shuffle per
 * class), so a run can be replayed and a champion and its candidate are judged on the same rows.
 */

/** The algorithm's version; a different split would be `split/2`, beside this one. */
export const SPLIT_VERSION = 'split/1'

/** mulberry32 (Tommy Ettinger, 2017): a 32-bit seeded generator of floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Row indices of each side of a split, ascending. */
export interface Split {
  train: number[]
  holdout: number[]
}

/**
 * Splits row indices by label: within each class (in sorted label order) the rows are shuffled with
 * one generator seeded by `seed`, and the first round(n·share) go to the holdout, at least one when
 * the class has two rows or more, never all of them. Rows whose label is undefined go nowhere.
 *
 * @example stratifiedSplit(['sun', 'rain', 'sun', 'rain'], 0.5, 1).holdout.length // 2
 */
export function stratifiedSplit(labels: readonly (string | undefined)[], share: number, seed: number): Split {
  if (!(share > 0 && share < 1)) throw new RangeError(`the holdout share must be in (0, 1), got ${share}`)
  const byClass = new Map<string, number[]>()
  labels.forEach((y, i) => {
    if (y === undefined) return
    const rows = byClass.get(y)
    if (rows) rows.push(i)
    else byClass.set(y, [i])
  })
  const random = mulberry32(seed)
  const train: number[] = []
  const holdout: number[] = []
  for (const y of [...byClass.keys()].sort()) {
    const rows = byClass.get(y)!
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[rows[i], rows[j]] = [rows[j], rows[i]]
    }
    const n = rows.length
    const k = n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(n * share)))
    holdout.push(...rows.slice(0, k))
    train.push(...rows.slice(k))
  }
  return { train: train.sort((a, b) => a - b), holdout: holdout.sort((a, b) => a - b) }
}
