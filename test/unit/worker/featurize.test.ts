import { describe, expect, it } from 'vitest'
import { EdgefleetError } from '../../../core/errors.ts'
import { featurize, planFeatures, type TabularSignature } from '../../../worker/featurize.ts'

const signature: TabularSignature = {
  kind: 'tabular',
  features: [
    { name: 'temp', type: 'numeric', transform: { kind: 'standardize', mean: 10, std: 4 } },
    { name: 'wind', type: 'numeric', transform: { kind: 'minmax', min: 0, max: 8 }, fill: 2 },
    { name: 'rain', type: 'numeric' },
    { name: 'sky', type: 'categorical', categories: ['sun', 'fog', 'rain'], encoding: 'onehot' },
    { name: 'month', type: 'categorical', categories: ['1', '2', '12'], encoding: 'index' },
  ],
  output: { kind: 'regression' },
}

describe('featurize', () => {
  const plan = planFeatures(signature)

  it('lays features out in declared order: numeric 1 column, one-hot k columns, index 1 column', () => {
    expect(plan.width).toBe(1 + 1 + 1 + 3 + 1)
  })

  it('scales numbers as declared: standardize (x − mean)/std, minmax (x − min)/(max − min), none as is', () => {
    const row = featurize(plan, [{ temp: 18, wind: 2, rain: 1.5, sky: 'fog', month: 12 }])
    expect(Array.from(row)).toEqual([2, 0.25, 1.5, 0, 1, 0, 2])
  })

  it('fills missing numbers before scaling: `fill` when given, else the transform centre, else 0', () => {
    // Strings, null, NaN and Infinity are missing, exactly as the profile counts them.
    const row = featurize(plan, [{ temp: 'hot', wind: null, rain: Number.NaN, sky: 'sun', month: '1' }])
    expect(Array.from(row)).toEqual([0, 0.25, 0, 1, 0, 0, 0])
    const minmaxCentre = planFeatures({
      ...signature,
      features: [{ name: 'w', type: 'numeric', transform: { kind: 'minmax', min: 0, max: 8 } }],
    })
    expect(Array.from(featurize(minmaxCentre, [{}]))).toEqual([0.5])
  })

  it('encodes unknown and missing categories as zeros (one-hot) or -1 (index)', () => {
    const row = featurize(plan, [
      { temp: 10, wind: 0, rain: 0, sky: 'hail', month: 7 },
      { temp: 10, wind: 0, rain: 0 },
    ])
    expect(Array.from(row)).toEqual([0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, -1])
  })

  it('matches numbers to categories by their string form (2 ↔ "2"), as profiles do', () => {
    expect(featurize(plan, [{ month: 2 }])[6]).toBe(1)
    expect(featurize(plan, [{ month: '2' }])[6]).toBe(1)
    expect(featurize(plan, [{ month: 2.0000001 }])[6]).toBe(-1)
  })

  it('writes one row per record into a single [batch, width] matrix', () => {
    const rows = featurize(plan, [{ temp: 14 }, { temp: 6 }, { temp: 10 }])
    expect(rows.length).toBe(3 * plan.width)
    expect([rows[0], rows[plan.width], rows[2 * plan.width]]).toEqual([1, -1, 0])
  })

  it('rejects a record that is not an object, pointing at it', () => {
    const error = (() => {
      try {
        featurize(plan, [{}, 42 as never])
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(EdgefleetError)
    expect(error).toMatchObject({ code: 'bad_request', pointer: '/inputs/1' })
  })
})
