// The retrainer's linear discriminant, trained on seattle-weather 2012 as `npm start`'s demo model:
// the ONNX graph runs in onnxruntime-web (Node) behind the SDK's own featurization and decoding, and
// must agree with the trainer's JS computation of the same formula.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as ort from 'onnxruntime-web'
import { beforeAll, describe, expect, it } from 'vitest'
import { readRecords } from '../../cli/records.ts'
import { Profile } from '../../core/formats/profile.ts'
import { Signature } from '../../core/formats/signature.ts'
import { profileMatchesSignature } from '../../core/registry/checks.ts'
import { choleskySolve } from '../../trainer/cholesky.ts'
import { CONFIDENCE, fitLda, ldaPredict, ldaProbabilities, trainLda, type LdaModel } from '../../trainer/lda.ts'
import { decodeRows } from '../../worker/decode.ts'
import { featurize, planFeatures } from '../../worker/featurize.ts'
import type { ModelOutput } from '../../worker/protocol.ts'
import { CONFIDENCE as WORKER_CONFIDENCE } from '../../worker/tabular-io.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind']

let rows2012: Record<string, unknown>[]
let model: LdaModel

/** Runs records through the SDK's featurization, the ONNX model in onnxruntime-web, and the SDK's decoding. */
async function runModel(m: LdaModel, records: Record<string, unknown>[]): Promise<ModelOutput[]> {
  const session = await ort.InferenceSession.create(m.onnx)
  try {
    const plan = planFeatures(m.signature)
    const x = new ort.Tensor('float32', featurize(plan, records), [records.length, plan.width])
    const result = await session.run({ [m.signature.input!.name]: x })
    const out = result[m.signature.output.name!]
    return decodeRows(
      m.signature.output,
      { dtype: 'float32', dims: [...out.dims], data: out.data as Float32Array },
      records.length,
      'weather',
    )
  } finally {
    await session.release()
  }
}

const classes = (o: ModelOutput) => {
  if (o.kind !== 'classes') throw new Error(`expected classes, got ${o.kind}`)
  return o
}

beforeAll(async () => {
  const { records } = await readRecords(`${root}node_modules/vega-datasets/data/seattle-weather.csv`)
  rows2012 = records.filter((r) => String(r.date).startsWith('2012-'))
  model = trainLda(rows2012, { features: FEATURES, label: 'weather' })
})

describe('trainLda on seattle-weather 2012', () => {
  it('runs in onnxruntime-web and predicts what the trainer computes, row by row', async () => {
    const outputs = await runModel(model, rows2012)
    expect(outputs).toHaveLength(366)
    const labels = model.parameters.labels
    let ties = 0
    outputs.forEach((o, i) => {
      const { label, scores } = classes(o)
      const expected = ldaProbabilities(model.parameters, rows2012[i])
      labels.forEach((l, k) => expect(scores[l]).toBeCloseTo(expected[k], 5))
      const sorted = [...expected].sort((a, b) => b - a)
      // float32 in the graph vs float64 here: only a near-tie may pick another class.
      if (sorted[0] - sorted[1] < 1e-5) ties++
      else expect(label).toBe(ldaPredict(model.parameters, rows2012[i]).label)
    })
    expect(ties).toBe(0)
  })

  it('beats the majority-class baseline on its training data', () => {
    expect(model.metrics.train_rows).toBe(366)
    expect(model.metrics.majority_baseline).toBeCloseTo(191 / 366, 12) // rain
    expect(model.metrics.train_accuracy).toBeGreaterThan(model.metrics.majority_baseline + 0.1)
    const correct = rows2012.filter((r) => ldaPredict(model.parameters, r).label === r.weather).length
    expect(model.metrics.train_accuracy).toBe(correct / 366)
  })

  it('writes a signature and a profile that validate against core and match each other', () => {
    expect(Signature.parse(model.signature)).toEqual(model.signature)
    expect(Profile.parse(model.profile)).toEqual(model.profile)
    expect(profileMatchesSignature(model.profile, model.signature)).toBeNull()
    expect(model.signature).toMatchObject({
      kind: 'tabular',
      input: { name: 'features' },
      output: {
        kind: 'classes',
        name: 'weather',
        labels: ['drizzle', 'fog', 'rain', 'snow', 'sun'],
        activation: 'none',
      },
    })
    expect(Object.keys(model.profile.features)).toEqual(FEATURES)
    for (const f of model.signature.features) {
      if (f.type !== 'numeric' || f.transform?.kind !== 'standardize')
        throw new Error('standardized numeric features only')
      // The SDK standardizes with the moments the profile describes.
      const p = model.profile.features[f.name]
      if (p.type !== 'numeric') throw new Error(`${f.name} is ${p.type} in the profile`)
      expect(f.transform.mean).toBeCloseTo(p.mean, 9)
      expect(f.transform.std).toBeCloseTo(p.std, 9)
    }
  })

  it("profiles its outputs under the names the SDK's worker bins: the label's name and `confidence`", async () => {
    expect(CONFIDENCE).toBe(WORKER_CONFIDENCE)
    const out = model.profile.outputs
    expect(Object.keys(out).sort()).toEqual([CONFIDENCE, 'weather'])
    expect(out.weather.type).toBe('categorical')
    expect(out[CONFIDENCE]).toMatchObject({ type: 'numeric', n: 366, missing: 0 })
    // The class counts are those of the model's own predictions.
    const predicted = (await runModel(model, rows2012)).map((o) => classes(o).label)
    if (out.weather.type !== 'categorical') throw new Error('categorical')
    out.weather.categories.forEach((c, i) =>
      expect(out.weather.counts[i]).toBe(predicted.filter((p) => p === c).length),
    )
    expect(out[CONFIDENCE].type === 'numeric' && out[CONFIDENCE].min).toBeGreaterThanOrEqual(1 / 5)
  })

  it('is what demo/models/weather holds, byte for byte (npx tsx scripts/make-demo-models.ts)', () => {
    const dir = `${root}demo/models/weather/`
    expect(new Uint8Array(readFileSync(`${dir}model.onnx`))).toEqual(model.onnx)
    expect(JSON.parse(readFileSync(`${dir}signature.json`, 'utf8'))).toEqual(model.signature)
    expect(JSON.parse(readFileSync(`${dir}profile.json`, 'utf8'))).toEqual(model.profile)
    expect(JSON.parse(readFileSync(`${dir}metrics.json`, 'utf8'))).toEqual(model.metrics)
  })
})

describe('fitLda', () => {
  const grid = Array.from({ length: 40 }, (_, i) => ({
    a: i % 10,
    b: Math.floor(i / 10),
    y: i % 10 < 5 ? 'low' : 'high',
  }))

  it('keeps the given class order; a class without rows is never predicted', async () => {
    const m = trainLda(grid, { features: ['a', 'b'], label: 'y', labels: ['high', 'none', 'low'] })
    expect(m.signature.output).toMatchObject({ labels: ['high', 'none', 'low'] })
    const outputs = await runModel(m, grid)
    outputs.forEach((o, i) => {
      expect(classes(o).label).toBe(grid[i].y)
      expect(classes(o).scores.none).toBe(0)
    })
  })

  it('imputes a missing value with the column mean, as the SDK fills it', () => {
    const p = fitLda(grid, { features: ['a', 'b'], label: 'y' })
    expect(ldaProbabilities(p, { a: null, b: 2 })).toEqual(ldaProbabilities(p, { a: p.mean[0], b: 2 }))
  })

  it('survives a constant feature (std 1, shrinkage keeps Σ invertible) and refuses unknown labels', () => {
    const p = fitLda(
      grid.map((r) => ({ ...r, c: 3 })),
      { features: ['a', 'c'], label: 'y' },
    )
    expect(p.std[1]).toBe(1)
    expect(() => fitLda(grid, { features: ['a'], label: 'y', labels: ['low', 'mid'] })).toThrow(
      /label "high" is not one of/,
    )
  })

  it('solves with Cholesky', () => {
    expect(Array.from(choleskySolve([4, 2, 2, 3], [2, 1], 2, 1))).toEqual([0.5, 0])
    expect(() => choleskySolve([1, 2, 2, 1], [1, 1], 2, 1)).toThrow(/positive definite/)
  })
})
