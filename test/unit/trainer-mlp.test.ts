// The retrainer's mlp family: seeded and deterministic, it learns a class boundary no linear model
// can draw (the label is the XOR of two signs), and its ONNX file gives the right classes in
// onnxruntime-web on the SDK's features.
import { describe, expect, it } from 'vitest'
import { holdoutMetrics } from '../../core/retrain/metrics.ts'
import { seededNormal, seededRandom } from '../../scripts/lib/random.ts'
import { judge, openOnnxClassifier } from '../../trainer/onnx-classifier.ts'
import { trainTabularLda } from '../../trainer/tabular-lda.ts'
import { trainTabularMlp } from '../../trainer/tabular-mlp.ts'
import { tabularSignatureFor } from '../../trainer/tabular-signature.ts'

const normal = seededNormal(seededRandom(5))
const rows = Array.from({ length: 400 }, () => {
  const a = normal() * 2
  const b = normal() * 2
  return { a, b, y: a * b > 0 ? 'same' : 'opposite' }
})
const train = rows.slice(0, 300)
const holdout = rows.slice(300)
const signature = tabularSignatureFor(train, { label: 'y' })

async function accuracy(onnx: Uint8Array): Promise<number> {
  const model = await openOnnxClassifier(onnx, signature)
  const predictions = await model.predict(holdout)
  await model.release()
  return holdoutMetrics(judge(predictions, holdout, 'y')).accuracy
}

describe('the mlp family', () => {
  it('learns XOR where lda cannot, reporting each epoch', async () => {
    const epochs: number[] = []
    const losses: number[] = []
    const trained = trainTabularMlp(train, signature, 'y', {
      seed: 1,
      onEpoch: (e, _n, loss) => (epochs.push(e), losses.push(loss)),
    })
    expect(epochs).toHaveLength(300)
    expect(losses.at(-1)!).toBeLessThan(losses[0]!)
    expect(await accuracy(trained.onnx)).toBeGreaterThan(0.9)
    expect(await accuracy(trainTabularLda(train, signature, 'y').onnx)).toBeLessThan(0.7)
  }, 60_000)

  it('gives the same bytes for the same seed and different ones for another', () => {
    const one = trainTabularMlp(train, signature, 'y', { seed: 1, epochs: 20 }).onnx
    expect(trainTabularMlp(train, signature, 'y', { seed: 1, epochs: 20 }).onnx).toEqual(one)
    expect(trainTabularMlp(train, signature, 'y', { seed: 2, epochs: 20 }).onnx).not.toEqual(one)
  })
})
