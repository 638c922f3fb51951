/**
 * @module
 * The `mlp` family of the retrainer: a one-hidden-layer perceptron (ReLU, softmax) on the rows as the
 * SDK featurizes them, trained full-batch with Adam (Kingma & Ba 2015) on the cross-entropy, weights
 * drawn by a seeded He initialisation, so one seed gives one model. The standardization used while
 * training is folded into the first layer, so the ONNX graph takes the SDK's features as they are.
 */
import { seededNormal, seededRandom } from '../scripts/lib/random.ts'
import { featurize, planFeatures } from '../worker/featurize.ts'
import { mlpSoftmaxOnnx, type DenseLayer } from './onnx-mlp.ts'
import type { TrainedClassifier } from './tabular-lda.ts'
import type { TabularSignature } from './tabular-signature.ts'

/** Hyper-parameters of the mlp family. */
export interface MlpOptions {
  hidden: number
  epochs: number
  learningRate: number
  /** L2 penalty on the weights. */
  l2: number
  seed: number
  /** Called after each epoch with (epoch, epochs, loss). */
  onEpoch?: (epoch: number, epochs: number, loss: number) => void
}

export const DEFAULT_MLP: Omit<MlpOptions, 'seed'> = { hidden: 16, epochs: 300, learningRate: 0.01, l2: 1e-4 }

/** Trains the MLP on the training rows and exports it as ONNX. */
export function trainTabularMlp(
  train: readonly Record<string, unknown>[],
  signature: TabularSignature,
  label: string,
  options: Partial<MlpOptions> & { seed: number },
): TrainedClassifier {
  const o = { ...DEFAULT_MLP, ...options }
  const plan = planFeatures(signature)
  const x = featurize(plan, train as Record<string, unknown>[])
  const D = plan.width
  const N = train.length
  const labels = signature.output.kind === 'classes' ? signature.output.labels : []
  const K = labels.length
  const y = train.map((r) => labels.indexOf(String(r[label])))
  const mean = new Float64Array(D)
  const std = new Float64Array(D)
  for (let j = 0; j < D; j++) {
    let s = 0
    for (let i = 0; i < N; i++) s += x[i * D + j]!
    mean[j] = s / N
    let v = 0
    for (let i = 0; i < N; i++) v += (x[i * D + j]! - mean[j]!) ** 2
    std[j] = Math.sqrt(v / N) || 1
  }
  const z = Float64Array.from(x, (v, idx) => (v - mean[idx % D]!) / std[idx % D]!)
  const H = o.hidden
  const normal = seededNormal(seededRandom(o.seed))
  const params = [
    Float64Array.from({ length: D * H }, () => normal() * Math.sqrt(2 / D)),
    new Float64Array(H),
    Float64Array.from({ length: H * K }, () => normal() * Math.sqrt(2 / H)),
    new Float64Array(K),
  ]
  const [W1, b1, W2, b2] = params as [Float64Array, Float64Array, Float64Array, Float64Array]
  const m = params.map((p) => new Float64Array(p.length))
  const v = params.map((p) => new Float64Array(p.length))
  const grads = params.map((p) => new Float64Array(p.length))
  const h = new Float64Array(N * H)
  const p = new Float64Array(N * K)
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    grads.forEach((g) => g.fill(0))
    let loss = 0
    for (let i = 0; i < N; i++) {
      for (let a = 0; a < H; a++) {
        let s = b1[a]!
        for (let j = 0; j < D; j++) s += z[i * D + j]! * W1[j * H + a]!
        h[i * H + a] = Math.max(0, s)
      }
      let max = -Infinity
      for (let k = 0; k < K; k++) {
        let s = b2[k]!
        for (let a = 0; a < H; a++) s += h[i * H + a]! * W2[a * K + k]!
        p[i * K + k] = s
        max = Math.max(max, s)
      }
      let sum = 0
      for (let k = 0; k < K; k++) sum += p[i * K + k] = Math.exp(p[i * K + k]! - max)
      for (let k = 0; k < K; k++) p[i * K + k]! /= sum
      loss -= Math.log(Math.max(p[i * K + y[i]!]!, 1e-12))
      // Backpropagation of the mean cross-entropy: dL/dlogits = p − onehot(y).
      for (let k = 0; k < K; k++) {
        const d = (p[i * K + k]! - (k === y[i] ? 1 : 0)) / N
        grads[3]![k]! += d
        for (let a = 0; a < H; a++) grads[2]![a * K + k]! += h[i * H + a]! * d
      }
      for (let a = 0; a < H; a++) {
        if (h[i * H + a]! <= 0) continue
        let d = 0
        for (let k = 0; k < K; k++) d += (p[i * K + k]! - (k === y[i] ? 1 : 0)) * W2[a * K + k]!
        d /= N
        grads[1]![a]! += d
        for (let j = 0; j < D; j++) grads[0]![j * H + a]! += z[i * D + j]! * d
      }
    }
    // Adam, with the L2 penalty on the weight matrices.
    const b1c = 1 - 0.9 ** epoch
    const b2c = 1 - 0.999 ** epoch
    params.forEach((w, n) => {
      const g = grads[n]!
      for (let q = 0; q < w.length; q++) {
        const gq = g[q]! + (n % 2 === 0 ? o.l2 * w[q]! : 0)
        m[n]![q] = 0.9 * m[n]![q]! + 0.1 * gq
        v[n]![q] = 0.999 * v[n]![q]! + 0.001 * gq * gq
        w[q]! -= (o.learningRate * (m[n]![q]! / b1c)) / (Math.sqrt(v[n]![q]! / b2c) + 1e-8)
      }
    })
    o.onEpoch?.(epoch, o.epochs, loss / N)
  }
  // Fold z = (x − mean) / std into layer 1: W1'_ja = W1_ja / std_j, b1'_a = b1_a − Σ_j mean_j W1'_ja.
  const first: DenseLayer = { inputs: D, weights: new Float32Array(D * H), bias: new Float32Array(H) }
  const folded = Float64Array.from(b1)
  for (let j = 0; j < D; j++)
    for (let a = 0; a < H; a++) {
      const w = W1[j * H + a]! / std[j]!
      first.weights[j * H + a] = w
      folded[a]! -= mean[j]! * w
    }
  first.bias.set(folded)
  const second: DenseLayer = { inputs: H, weights: Float32Array.from(W2), bias: Float32Array.from(b2) }
  const onnx = mlpSoftmaxOnnx({
    input: signature.input?.name ?? 'features',
    output: signature.output.name ?? label,
    layers: [first, second],
    producer: 'edgefleet-trainer-mlp',
  })
  return {
    onnx,
    hyper: { hidden: H, epochs: o.epochs, learningRate: o.learningRate, l2: o.l2, seed: o.seed },
  }
}
