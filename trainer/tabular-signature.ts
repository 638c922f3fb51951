/**
 * @module
 * The signature a retrained tabular classifier takes: its features chosen and typed as `edgefleet
 * profile` infers them from the data, or taken from the model it replaces (same names, types and
 * categories, so the input keeps its width and the app its calls), with standardization refit on the
 * training rows.
 */
import { EdgefleetError } from '../core/errors.ts'
import type { Signature, TabularFeature } from '../core/formats/signature.ts'
import { inferColumns, type InferOptions } from '../core/profile/infer.ts'
import { categoryKey, numericValue } from '../core/profile/values.ts'

/** A signature of kind `tabular`. */
export type TabularSignature = Extract<Signature, { kind: 'tabular' }>

/** At most this many one-hot categories per feature (the signature's own limit). */
const MAX_CATEGORIES = 1024

/** How the retrainer chooses its inputs and outputs. */
export interface SignatureChoice {
  label: string
  /** The production version's signature: its features, categories, input name and labels are kept. */
  champion?: TabularSignature | null
  /** Column selection as `edgefleet profile` takes it (used without a champion). */
  infer?: InferOptions
}

/**
 * The candidate's signature from its training rows. Numeric features are standardized with the
 * training mean and standard deviation (1 for a constant column); categorical ones are one-hot over
 * the champion's categories, else the training values, sorted. Labels are the champion's (a new
 * label is refused: it would change the output's width), else the training labels, sorted.
 *
 * @example tabularSignatureFor(rows, { label: 'weather' }).features.map((f) => f.name)
 */
export function tabularSignatureFor(
  train: readonly Record<string, unknown>[],
  choice: SignatureChoice,
): TabularSignature {
  const { label, champion } = choice
  const seen = [...new Set(train.flatMap((r) => categoryKey(r[label]) ?? []))].sort()
  if (seen.length === 0) throw new EdgefleetError('empty_data', `no rows with a "${label}" label`)
  let labels = seen
  if (champion) {
    if (champion.output.kind !== 'classes')
      throw new EdgefleetError(
        'bad_request',
        'the production version is not a classifier; the retrainer trains classifiers',
      )
    labels = champion.output.labels
    const extra = seen.filter((l) => !labels.includes(l))
    if (extra.length > 0)
      throw new EdgefleetError(
        'validation_failed',
        `label ${extra.map((l) => `"${l}"`).join(', ')} is not one of the production version's (${labels.join(', ')})`,
      )
  }
  if (labels.length < 2) throw new EdgefleetError('empty_data', `"${label}" has a single class (${labels[0]})`)

  const planned: { name: string; type: 'numeric' | 'categorical'; categories?: string[] }[] = champion
    ? champion.features.map((f) => ({
        name: f.name,
        type: f.type,
        ...(f.type === 'categorical' ? { categories: f.categories } : {}),
      }))
    : inferColumns(train, { ...choice.infer, outputs: [label] }).columns.filter((c) => c.role === 'feature')
  if (planned.length === 0) throw new EdgefleetError('empty_data', 'no feature columns to train on')

  const features: TabularFeature[] = planned.map((p) => {
    if (p.type === 'numeric') {
      const xs = train.flatMap((r) => numericValue(r[p.name]) ?? [])
      if (xs.length === 0) throw new EdgefleetError('empty_data', `feature "${p.name}" has no numeric values`)
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length
      const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length)
      return { name: p.name, type: 'numeric', transform: { kind: 'standardize', mean, std: std > 0 ? std : 1 } }
    }
    const categories =
      p.categories ?? [...new Set(train.flatMap((r) => categoryKey(r[p.name]) ?? []))].sort().slice(0, MAX_CATEGORIES)
    if (categories.length === 0) throw new EdgefleetError('empty_data', `feature "${p.name}" has no values`)
    return { name: p.name, type: 'categorical', categories, encoding: 'onehot' }
  })
  return {
    kind: 'tabular',
    features,
    input: { name: champion?.input?.name ?? 'features' },
    output: { kind: 'classes', name: champion?.output.name ?? label, labels, activation: 'none' },
  }
}
