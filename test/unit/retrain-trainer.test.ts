// The retrainer's lda family on data as the SDK featurizes it: a one-hot categorical and a constant
// column do not make the covariance singular, the folded graph agrees with the discriminant, and the
// signature keeps a production version's features and categories. Data sources: a path and a command.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadData } from '../../cli/retrain/data-source.ts'
import { holdoutMetrics } from '../../core/retrain/metrics.ts'
import { seededNormal, seededRandom } from '../../scripts/lib/random.ts'
import { judge, openOnnxClassifier } from '../../trainer/onnx-classifier.ts'
import { trainTabularLda } from '../../trainer/tabular-lda.ts'
import { tabularSignatureFor } from '../../trainer/tabular-signature.ts'

const rand = seededRandom(21)
const normal = seededNormal(rand)
/** Three classes told apart by a number and a category; `site` is constant. */
const rows = Array.from({ length: 600 }, (_, i) => {
  const y = ['low', 'mid', 'high'][i % 3]
  const k = i % 3
  return {
    x: k * 2 + normal(),
    colour: rand() < 0.8 ? ['red', 'green', 'blue'][k] : ['red', 'green', 'blue'][Math.floor(rand() * 3)],
    site: 'a',
    y,
  }
})
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-trainer-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('the lda family', () => {
  it('trains on a one-hot categorical and a constant column and beats the majority class by far', async () => {
    const train = rows.slice(0, 450)
    const holdout = rows.slice(450)
    const signature = tabularSignatureFor(train, { label: 'y' })
    expect(signature.features).toEqual([
      {
        name: 'x',
        type: 'numeric',
        transform: { kind: 'standardize', mean: expect.any(Number), std: expect.any(Number) },
      },
      { name: 'colour', type: 'categorical', categories: ['blue', 'green', 'red'], encoding: 'onehot' },
      { name: 'site', type: 'categorical', categories: ['a'], encoding: 'onehot' },
    ])
    expect(signature.output).toEqual({ kind: 'classes', name: 'y', labels: ['high', 'low', 'mid'], activation: 'none' })
    const trained = trainTabularLda(train, signature, 'y')
    const model = await openOnnxClassifier(trained.onnx, signature)
    const predictions = await model.predict(holdout)
    await model.release()
    for (const p of predictions) expect(Object.values(p.scores).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5)
    const m = holdoutMetrics(judge(predictions, holdout, 'y'))
    expect(m.accuracy).toBeGreaterThan(0.75)
  }, 60_000)

  it('keeps the production signature: its features, categories, input name and labels', () => {
    const champion = {
      kind: 'tabular' as const,
      features: [
        {
          name: 'colour',
          type: 'categorical' as const,
          categories: ['red', 'green', 'blue', 'violet'],
          encoding: 'onehot' as const,
        },
        { name: 'x', type: 'numeric' as const, transform: { kind: 'standardize' as const, mean: 0, std: 1 } },
      ],
      input: { name: 'inputs' },
      output: {
        kind: 'classes' as const,
        name: 'klass',
        labels: ['low', 'mid', 'high', 'extreme'],
        activation: 'none' as const,
      },
    }
    const s = tabularSignatureFor(rows, { label: 'y', champion })
    expect(s.features.map((f) => f.name)).toEqual(['colour', 'x'])
    expect(s.features[0]).toMatchObject({ categories: ['red', 'green', 'blue', 'violet'] })
    expect(s.features[1]).not.toEqual(champion.features[1])
    expect(s.input).toEqual({ name: 'inputs' })
    expect(s.output).toMatchObject({ name: 'klass', labels: ['low', 'mid', 'high', 'extreme'] })
    expect(() => tabularSignatureFor([...rows, { x: 1, colour: 'red', y: 'new' }], { label: 'y', champion })).toThrow(
      /label "new" is not one of the production version's/,
    )
  }, 60_000)
})

describe('data sources', () => {
  const csv = 'x,y\n1,a\n2,b\n'
  it('reads a path and a command, with the same records and SHA-256 for the same bytes', async () => {
    writeFileSync(join(dir, 'd.csv'), csv)
    const fromPath = await loadData({ path: join(dir, 'd.csv') })
    const fromCommand = await loadData({
      command: process.execPath,
      args: ['-e', `process.stdout.write(${JSON.stringify(csv)})`],
      format: 'csv',
    })
    expect(fromPath.records).toEqual([
      { x: 1, y: 'a' },
      { x: 2, y: 'b' },
    ])
    expect(fromCommand.records).toEqual(fromPath.records)
    expect(fromCommand.sha256).toBe(fromPath.sha256)
    expect(fromPath.name).toBe('d.csv')
  })

  it('names the source when it fails', async () => {
    await expect(loadData({ path: join(dir, 'missing.csv') })).rejects.toMatchObject({ code: 'not_found' })
    await expect(
      loadData({ command: process.execPath, args: ['-e', 'console.error("no data today"); process.exit(3)'] }),
    ).rejects.toThrow(/data command ".*" failed: no data today/)
  })
})
