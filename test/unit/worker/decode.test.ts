import { describe, expect, it } from 'vitest'
import { decodeRows } from '../../../worker/decode.ts'
import type { ModelOutput, TensorData } from '../../../worker/protocol.ts'

const f32 = (dims: number[], values: number[]): TensorData => ({
  dtype: 'float32',
  dims,
  data: Float32Array.from(values),
})
const classes = (o: ModelOutput) => {
  if (o.kind !== 'classes') throw new Error(o.kind)
  return o
}

describe('decodeRows', () => {
  const labels = ['sun', 'rain', 'fog']

  it('applies softmax to logits, stable for large values, and picks the highest score', () => {
    const [a, b] = decodeRows(
      { kind: 'classes', labels, activation: 'softmax' },
      f32([2, 3], [1000, 1001, 999, 0, 0, 0]),
      2,
      'y',
    )
    const e = [Math.exp(-1), 1, Math.exp(-2)]
    const sum = e[0] + e[1] + e[2]
    expect(classes(a).label).toBe('rain')
    expect(classes(a).scores.rain).toBeCloseTo(1 / sum, 12)
    expect(classes(a).scores.sun).toBeCloseTo(e[0] / sum, 12)
    // Ties go to the first label.
    expect(classes(b).label).toBe('sun')
    expect(classes(b).scores.fog).toBeCloseTo(1 / 3, 12)
  })

  it('passes probabilities through with activation none and maps sigmoid per score', () => {
    const [p] = decodeRows({ kind: 'classes', labels, activation: 'none' }, f32([1, 3], [0.2, 0.3, 0.5]), 1, 'y')
    expect(classes(p)).toMatchObject({ label: 'fog' })
    expect(classes(p).scores.sun).toBeCloseTo(0.2, 7)
    const [s] = decodeRows({ kind: 'classes', labels, activation: 'sigmoid' }, f32([1, 3], [0, 2, -2]), 1, 'y')
    expect(classes(s).scores.sun).toBe(0.5)
    expect(classes(s).scores.rain).toBeCloseTo(1 / (1 + Math.exp(-2)), 7)
  })

  it('reads a single score for two labels as P(second label)', () => {
    const [yes, no] = decodeRows(
      { kind: 'classes', labels: ['no', 'yes'], activation: 'sigmoid' },
      f32([2, 1], [3, -3]),
      2,
      'p',
    )
    expect(classes(yes)).toMatchObject({ label: 'yes' })
    expect(classes(yes).scores.yes).toBeCloseTo(1 / (1 + Math.exp(-3)), 7)
    expect(classes(yes).scores.no + classes(yes).scores.yes).toBeCloseTo(1, 12)
    expect(classes(no).label).toBe('no')
  })

  it('returns one regression value per row, from [batch] or [batch, 1]', () => {
    expect(decodeRows({ kind: 'regression' }, f32([2, 1], [1.5, -2]), 2, 'y')).toEqual([
      { kind: 'regression', value: 1.5 },
      { kind: 'regression', value: -2 },
    ])
    const int64: TensorData = { dtype: 'int64', dims: [1], data: BigInt64Array.of(7n) }
    expect(decodeRows({ kind: 'regression' }, int64, 1, 'y')).toEqual([{ kind: 'regression', value: 7 }])
  })

  it('refuses outputs that disagree with the signature (validation_failed)', () => {
    expect(() =>
      decodeRows({ kind: 'classes', labels, activation: 'none' }, f32([1, 4], [0, 0, 0, 1]), 1, 'y'),
    ).toThrow(/4 scores per row for 3 labels/)
    expect(() => decodeRows({ kind: 'regression' }, f32([1, 2], [0, 0]), 1, 'y')).toThrow(/2 values per row/)
    expect(() => decodeRows({ kind: 'regression' }, f32([3, 1], [0, 0, 0]), 2, 'y')).toThrow(
      expect.objectContaining({ code: 'validation_failed' }),
    )
  })
})
