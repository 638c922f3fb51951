import { EdgefleetError } from '../core/errors.ts'
import type { Profile } from '../core/formats/profile.ts'
import type { Signature } from '../core/formats/signature.ts'
import { buildProfile } from '../core/profile/build.ts'
import type { ColumnInference } from '../core/profile/infer.ts'
import { categoryKey, numericValue } from '../core/profile/values.ts'
import { choleskySolve } from './cholesky.ts'
import { linearSoftmaxOnnx } from './onnx-linear.ts'

/** A signature of kind `tabular`. */
export type TabularSignature = Extract<Signature, { kind: 'tabular' }>

/** The profile's name for a classifier's top class score: what the SDK's worker bins it under (worker/tabular-io.ts). */
export const CONFIDENCE = 'confidence'

/** Logit of a class with no training rows: never predicted, probability 0 after softmax. */
const ABSENT_LOGIT = -1e4

export interface LdaOptions {
  /** Numeric input columns, in the order the model takes them. */
  features: readonly string[]
  /** The class column; also the name of the model's output and of its profiled output. */
  label: string
  /** Class order (keep it fixed across retrains); default: the labels seen, sorted. A class may have no rows. */
  labels?: readonly string[]
  /** λ in Σ_λ = (1 − λ)·Σ + λ·(tr Σ / d)·I, in [0, 1] (default 0.01): keeps Σ invertible when features are collinear or constant. */
  shrinkage?: number
  /** Name of the model's input tensor (default `features`). */
  input?: string
}

/** A fitted discriminant: standardization moments, and W (`features × labels`, row-major) and b as the model stores them. */
export interface LdaParameters {
  features: string[]
  label: string
  labels: string[]
  input: string
  mean: number[]
  std: number[]
  weights: Float32Array
  bias: Float32Array
}

/** Everything a publish needs: the ONNX bytes, the signature, the reference profile and offline metrics. */
export interface LdaModel {
  parameters: LdaParameters
  onnx: Uint8Array
  signature: TabularSignature
  profile: Profile
  metrics: { train_accuracy: number; majority_baseline: number; train_rows: number }
}

/**
 * Fits linear discriminant analysis with a pooled within-class covariance (Hastie, Tibshirani &
 * Friedman, The Elements of Statistical Learning, 2nd ed., §4.3, eq. 4.10) on standardized features
 * z = (x − mean) / std:
 *
 *   δ_k(z) = zᵀ Σ⁻¹ μ_k − ½ μ_kᵀ Σ⁻¹ μ_k + ln π_k,   Σ = Σ_k Σ_{i ∈ k} (z_i − μ_k)(z_i − μ_k)ᵀ / (N − K),
 *
 * with μ_k the class means, π_k = N_k / N the priors, and Σ shrunk towards a scaled identity. A
 * missing value is imputed with the column mean (z = 0), as the SDK fills it by default. Rows
 * without a label are skipped.
 *
 * @example fitLda(rows, { features: ['temp_max', 'wind'], label: 'weather' }).labels
 */
export function fitLda(records: readonly Record<string, unknown>[], options: LdaOptions): LdaParameters {
  const { features, label } = options
  const input = options.input ?? 'features'
  const shrinkage = options.shrinkage ?? 0.01
  if (features.length === 0) throw new EdgefleetError('bad_request', 'LDA needs at least one feature')
  if (new Set(features).size !== features.length) throw new EdgefleetError('bad_request', 'features must be distinct')
  if (features.includes(label) || label === CONFIDENCE || label === input)
    throw new EdgefleetError(
      'bad_request',
      `the label "${label}" must not be a feature, "${CONFIDENCE}" or the input name`,
    )
  if (!(shrinkage >= 0 && shrinkage <= 1))
    throw new EdgefleetError('bad_request', `shrinkage must be in [0, 1], got ${shrinkage}`)

  const rows = labeledRows(records, label)
  const labels = options.labels ? [...options.labels] : [...new Set(rows.map((r) => r.y))].sort()
  if (labels.length < 2 || new Set(labels).size !== labels.length)
    throw new EdgefleetError('bad_request', 'LDA needs at least two distinct labels')
  const classOf = new Map(labels.map((l, k) => [l, k]))
  const unknown = rows.find((r) => !classOf.has(r.y))
  if (unknown) throw new EdgefleetError('validation_failed', `label "${unknown.y}" is not one of ${labels.join(', ')}`)

  const d = features.length
  const K = labels.length
  const n = rows.length
  const mean: number[] = []
  const std: number[] = []
  for (const f of features) {
    const xs = rows.flatMap((r) => (numericValue(r.record[f]) === undefined ? [] : [r.record[f] as number]))
    if (xs.length === 0) throw new EdgefleetError('empty_data', `feature "${f}" has no numeric values`)
    const m = xs.reduce((a, b) => a + b, 0) / xs.length
    const s = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length)
    mean.push(m)
    // A constant column carries no information; std 1 keeps the transform valid (z is then always 0).
    std.push(s > 0 ? s : 1)
  }
  const z = new Float64Array(n * d)
  rows.forEach((r, i) =>
    features.forEach((f, j) => (z[i * d + j] = ((numericValue(r.record[f]) ?? mean[j]) - mean[j]) / std[j])),
  )

  const counts = new Float64Array(K)
  const mu = new Float64Array(K * d)
  rows.forEach((r, i) => {
    const k = classOf.get(r.y)!
    counts[k]++
    for (let j = 0; j < d; j++) mu[k * d + j] += z[i * d + j]
  })
  for (let k = 0; k < K; k++) for (let j = 0; j < d; j++) mu[k * d + j] /= counts[k] || 1
  const present = counts.filter((c) => c > 0).length
  if (n - present < 1)
    throw new EdgefleetError('empty_data', `LDA needs more rows than classes (${n} rows, ${present} classes)`)

  const sigma = new Float64Array(d * d)
  rows.forEach((r, i) => {
    const k = classOf.get(r.y)!
    for (let a = 0; a < d; a++)
      for (let b = 0; b < d; b++) sigma[a * d + b] += (z[i * d + a] - mu[k * d + a]) * (z[i * d + b] - mu[k * d + b])
  })
  let trace = 0
  for (let a = 0; a < d; a++) trace += sigma[a * d + a] / (n - present)
  for (let a = 0; a < d; a++)
    for (let b = 0; b < d; b++)
      sigma[a * d + b] = (1 - shrinkage) * (sigma[a * d + b] / (n - present)) + (a === b ? (shrinkage * trace) / d : 0)

  // Σ⁻¹ M, M the d × K matrix of class means: W's columns are Σ⁻¹ μ_k.
  const means = new Float64Array(d * K)
  for (let k = 0; k < K; k++) for (let j = 0; j < d; j++) means[j * K + k] = mu[k * d + j]
  const w = choleskySolve(sigma, means, d, K)
  const weights = new Float32Array(d * K)
  const bias = new Float32Array(K)
  for (let k = 0; k < K; k++) {
    if (counts[k] === 0) {
      bias[k] = ABSENT_LOGIT
      continue
    }
    let quad = 0
    for (let j = 0; j < d; j++) {
      weights[j * K + k] = w[j * K + k]
      quad += mu[k * d + j] * w[j * K + k]
    }
    bias[k] = -0.5 * quad + Math.log(counts[k] / n)
  }
  return { features: [...features], label, labels, input, mean, std, weights, bias }
}

/**
 * Class probabilities of one record, computed here as the model computes them: the record is
 * standardized to float32 as the SDK featurizes it, then softmax(z·W + b) in float64.
 */
export function ldaProbabilities(p: LdaParameters, record: Record<string, unknown>): Float64Array {
  const K = p.labels.length
  const z = p.features.map((f, j) => Math.fround(((numericValue(record[f]) ?? p.mean[j]) - p.mean[j]) * (1 / p.std[j])))
  const logits = new Float64Array(K)
  for (let k = 0; k < K; k++) {
    let s = p.bias[k]
    for (let j = 0; j < z.length; j++) s += z[j] * p.weights[j * K + k]
    logits[k] = s
  }
  const max = Math.max(...logits)
  let sum = 0
  for (let k = 0; k < K; k++) sum += logits[k] = Math.exp(logits[k] - max)
  for (let k = 0; k < K; k++) logits[k] /= sum
  return logits
}

/** The predicted class (the first highest probability, as the SDK decodes) and that probability. */
export function ldaPredict(p: LdaParameters, record: Record<string, unknown>): { label: string; confidence: number } {
  const probs = ldaProbabilities(p, record)
  let best = 0
  for (let k = 1; k < probs.length; k++) if (probs[k] > probs[best]) best = k
  return { label: p.labels[best], confidence: probs[best] }
}

/**
 * Trains the classifier and packages it for publishing: ONNX bytes (Gemm + Softmax, output named
 * after the label), a tabular signature (standardize transforms, classes with `activation: 'none'`
 * since the graph ends in Softmax), a `profile/1` of the training features plus the model's own
 * predictions on them (the class under the label's name, the top probability under `confidence`),
 * and training accuracy against the majority-class baseline.
 *
 * @example const { onnx, signature, profile, metrics } = trainLda(rows2012, { features: ['temp_max', 'wind'], label: 'weather' })
 */
export function trainLda(records: readonly Record<string, unknown>[], options: LdaOptions): LdaModel {
  const p = fitLda(records, options)
  const onnx = linearSoftmaxOnnx({
    input: p.input,
    output: p.label,
    weights: p.weights,
    bias: p.bias,
    width: p.features.length,
    producer: 'edgefleet-trainer-lda',
  })
  const signature: TabularSignature = {
    kind: 'tabular',
    features: p.features.map((name, j) => ({
      name,
      type: 'numeric',
      transform: { kind: 'standardize', mean: p.mean[j], std: p.std[j] },
    })),
    input: { name: p.input },
    output: { kind: 'classes', name: p.label, labels: p.labels, activation: 'none' },
  }
  const rows = labeledRows(records, p.label)
  let correct = 0
  const tally = new Map<string, number>()
  const profiled = rows.map(({ record, y }) => {
    const { label, confidence } = ldaPredict(p, record)
    if (label === y) correct++
    tally.set(y, (tally.get(y) ?? 0) + 1)
    const row: Record<string, unknown> = { [p.label]: label, [CONFIDENCE]: confidence }
    for (const f of p.features) row[f] = record[f]
    return row
  })
  // Types are the signature's, not inferred (a feature with ≤ 5 distinct values would read as categorical).
  const inference: ColumnInference = {
    columns: [
      ...p.features.map((name) => ({ name, role: 'feature' as const, type: 'numeric' as const })),
      { name: p.label, role: 'output', type: 'categorical' },
      { name: CONFIDENCE, role: 'output', type: 'numeric' },
    ],
    skipped: [],
  }
  const profile = buildProfile(profiled, {}, inference)
  const metrics = {
    train_accuracy: correct / rows.length,
    majority_baseline: Math.max(...tally.values()) / rows.length,
    train_rows: rows.length,
  }
  return { parameters: p, onnx, signature, profile, metrics }
}

function labeledRows(
  records: readonly Record<string, unknown>[],
  label: string,
): { record: Record<string, unknown>; y: string }[] {
  const rows = records.flatMap((record) => {
    const y = categoryKey(record[label])
    return y === undefined ? [] : [{ record, y }]
  })
  if (rows.length === 0) throw new EdgefleetError('empty_data', `no rows with a "${label}" label`)
  return rows
}
