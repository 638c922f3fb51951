/**
 * @module
 * Holdout metrics of a classifier from its predictions: accuracy, per-class and per-slice accuracy,
 * log-loss, and the majority-class predictor the gates compare against. Pure; the CLI runs the model.
 */
import type { RunMetrics } from '../formats/run.ts'

/** Log-loss clamps probabilities to [ε, 1]: one confident mistake costs −ln ε ≈ 34.5, not Infinity. */
export const LOG_LOSS_EPSILON = 1e-15

/** One holdout row as judged: the true class, the predicted one and the probability given to the true class. */
export interface Judged {
  truth: string
  predicted: string
  pTruth: number
}

/** Accuracy over a group of rows. */
export interface GroupAccuracy {
  n: number
  accuracy: number
}

/**
 * Accuracy, mean log-loss (−(1/N) Σ ln max(p_i, ε), p_i the probability of row i's true class),
 * accuracy per true class, and per value of each slice column (`slices[column][row]`, undefined rows
 * left out).
 *
 * @example holdoutMetrics([{ truth: 'sun', predicted: 'sun', pTruth: 0.9 }]).accuracy // 1
 */
export function holdoutMetrics(
  rows: readonly Judged[],
  slices: Readonly<Record<string, readonly (string | undefined)[]>> = {},
): RunMetrics {
  if (rows.length === 0) throw new RangeError('no holdout rows to evaluate')
  let correct = 0
  let loss = 0
  const perClass = new Map<string, { n: number; correct: number }>()
  rows.forEach((r) => {
    const hit = r.predicted === r.truth
    if (hit) correct++
    loss -= Math.log(Math.max(r.pTruth, LOG_LOSS_EPSILON))
    const c = perClass.get(r.truth) ?? { n: 0, correct: 0 }
    c.n++
    if (hit) c.correct++
    perClass.set(r.truth, c)
  })
  const perSlice: Record<string, Record<string, GroupAccuracy>> = {}
  for (const [column, values] of Object.entries(slices)) {
    const groups = new Map<string, { n: number; correct: number }>()
    rows.forEach((r, i) => {
      const v = values[i]
      if (v === undefined) return
      const g = groups.get(v) ?? { n: 0, correct: 0 }
      g.n++
      if (r.predicted === r.truth) g.correct++
      groups.set(v, g)
    })
    perSlice[column] = toAccuracies(groups)
  }
  return { accuracy: correct / rows.length, logLoss: loss / rows.length, perClass: toAccuracies(perClass), perSlice }
}

/** The most frequent class of the training labels (ties: the first in sorted order) and its share. */
export function majorityClass(labels: readonly string[]): { label: string; share: number } {
  if (labels.length === 0) throw new RangeError('no labels')
  const counts = new Map<string, number>()
  for (const y of labels) counts.set(y, (counts.get(y) ?? 0) + 1)
  const [label, n] = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]
  return { label, share: n / labels.length }
}

/**
 * The majority-class predictor judged on holdout truths: it always answers the training majority,
 * with the training class shares as its probabilities.
 */
export function majorityJudged(trainLabels: readonly string[], truths: readonly string[]): Judged[] {
  const { label } = majorityClass(trainLabels)
  const counts = new Map<string, number>()
  for (const y of trainLabels) counts.set(y, (counts.get(y) ?? 0) + 1)
  return truths.map((truth) => ({ truth, predicted: label, pTruth: (counts.get(truth) ?? 0) / trainLabels.length }))
}

function toAccuracies(groups: Map<string, { n: number; correct: number }>): Record<string, GroupAccuracy> {
  const out: Record<string, GroupAccuracy> = {}
  for (const [k, g] of [...groups].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)))
    out[k] = { n: g.n, accuracy: g.correct / g.n }
  return out
}
