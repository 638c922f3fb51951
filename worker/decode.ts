import { EdgefleetError } from '../core/errors.ts'
import type { TabularSignature } from './featurize.ts'
import type { ModelOutput, TensorData } from './protocol.ts'
import { elementCount, numberAt } from './tensor-data.ts'

type OutputSpec = TabularSignature['output']

/**
 * A tabular model's output tensor → one ModelOutput per row. Classes: one score per label (or a
 * single score for two labels, read as P(labels[1])), after the declared activation: `softmax`
 * (max-shifted, so large logits do not overflow), `sigmoid` (per score), or `none` (scores as they are).
 * The label is the highest score's (the first on ties). Regression: the row's single value.
 */
export function decodeRows(spec: OutputSpec, tensor: TensorData, rows: number, name: string): ModelOutput[] {
  const size = elementCount(tensor.dims)
  const width = rows === 0 ? 0 : size / rows
  if (!Number.isInteger(width) || tensor.dims[0] !== rows)
    throw new EdgefleetError(
      'validation_failed',
      `output "${name}" has dims [${tensor.dims.join(', ')}], not ${rows} rows`,
    )
  const outputs: ModelOutput[] = new Array(rows)
  if (spec.kind === 'regression') {
    if (width !== 1)
      throw new EdgefleetError('validation_failed', `regression output "${name}" has ${width} values per row, not 1`)
    for (let r = 0; r < rows; r++) outputs[r] = { kind: 'regression', value: numberAt(tensor, r) }
    return outputs
  }
  const labels = spec.labels
  const binary = width === 1 && labels.length === 2
  if (width !== labels.length && !binary)
    throw new EdgefleetError(
      'validation_failed',
      `output "${name}" has ${width} scores per row for ${labels.length} labels`,
    )
  const scores = new Float64Array(labels.length)
  for (let r = 0; r < rows; r++) {
    if (binary) {
      const p = activate(spec.activation, numberAt(tensor, r))
      scores[0] = 1 - p
      scores[1] = p
    } else {
      for (let k = 0; k < width; k++) scores[k] = numberAt(tensor, r * width + k)
      if (spec.activation === 'softmax') softmaxInPlace(scores)
      else if (spec.activation === 'sigmoid') for (let k = 0; k < width; k++) scores[k] = sigmoid(scores[k])
    }
    let best = 0
    const byLabel: Record<string, number> = {}
    for (let k = 0; k < labels.length; k++) {
      byLabel[labels[k]] = scores[k]
      if (scores[k] > scores[best]) best = k
    }
    outputs[r] = { kind: 'classes', label: labels[best], scores: byLabel }
  }
  return outputs
}

function activate(activation: 'softmax' | 'sigmoid' | 'none' | undefined, x: number): number {
  // A lone score under softmax is the positive class's logit against an implicit 0 logit: sigmoid.
  return activation === 'sigmoid' || activation === 'softmax' ? sigmoid(x) : x
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x))
}

/** softmax(x)_k = exp(x_k − max x) / Σ_j exp(x_j − max x). */
export function softmaxInPlace(xs: Float64Array): void {
  let max = -Infinity
  for (const x of xs) if (x > max) max = x
  let sum = 0
  for (let k = 0; k < xs.length; k++) {
    xs[k] = Math.exp(xs[k] - max)
    sum += xs[k]
  }
  for (let k = 0; k < xs.length; k++) xs[k] /= sum
}
