/**
 * @module
 * The `lda` family of the retrainer: linear discriminant analysis on the rows exactly as the SDK
 * featurizes them (worker/featurize.ts: standardized numbers, one-hot categories), exported as
 * softmax(x·W + b) in ONNX. Shrinkage keeps the pooled covariance invertible when one-hot columns sum
 * to one or a column is constant.
 */
import { featurize, planFeatures } from '../worker/featurize.ts'
import { fitLda } from './lda.ts'
import { linearSoftmaxOnnx } from './onnx-linear.ts'
import type { TabularSignature } from './tabular-signature.ts'

/** Default shrinkage of the retrainer's LDA: more than the demo's, since one-hot columns are collinear. */
export const DEFAULT_LDA_SHRINKAGE = 0.05

/** A trained classifier, ready to evaluate and publish. */
export interface TrainedClassifier {
  onnx: Uint8Array
  hyper: Record<string, number | string | boolean>
}

/**
 * Fits LDA on the featurized training rows and folds its own standardization z = (x − m) / s into
 * the weights, so the graph takes the SDK's features as they are: W'_jk = W_jk / s_j and
 * b'_k = b_k − Σ_j (m_j / s_j) W_jk.
 */
export function trainTabularLda(
  train: readonly Record<string, unknown>[],
  signature: TabularSignature,
  label: string,
  shrinkage = DEFAULT_LDA_SHRINKAGE,
): TrainedClassifier {
  const plan = planFeatures(signature)
  const x = featurize(plan, train as Record<string, unknown>[])
  const width = plan.width
  const columns = Array.from({ length: width }, (_, j) => `x${j}`)
  const Y = '\u0000label'
  const rows = train.map((r, i) => {
    const row: Record<string, unknown> = { [Y]: r[label] }
    for (let j = 0; j < width; j++) row[columns[j]] = x[i * width + j]
    return row
  })
  const labels = signature.output.kind === 'classes' ? signature.output.labels : []
  const p = fitLda(rows, { features: columns, label: Y, labels, shrinkage })
  const K = labels.length
  const weights = new Float32Array(width * K)
  const folded = Float64Array.from(p.bias)
  for (let j = 0; j < width; j++)
    for (let k = 0; k < K; k++) {
      const w = p.weights[j * K + k] / p.std[j]
      weights[j * K + k] = w
      folded[k] -= p.mean[j] * w
    }
  const bias = Float32Array.from(folded)
  const onnx = linearSoftmaxOnnx({
    input: signature.input?.name ?? 'features',
    output: signature.output.name ?? label,
    weights,
    bias,
    width,
    producer: 'edgefleet-trainer-lda',
  })
  return { onnx, hyper: { shrinkage } }
}
