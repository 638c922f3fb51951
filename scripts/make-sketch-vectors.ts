/**
 * Writes test/vectors/sketch-golden.json: small datasets with their exact `sketch/1` encoding and a few
 * quantile estimates. Run once with `npx tsx scripts/make-sketch-vectors.ts`; the vectors pin the format,
 * so regenerate only for a new format version (and keep the old file).
 */
import { writeFileSync } from 'node:fs'
import { DDSketch } from '../core/sketch/index.ts'
import { seededNormal, seededRandom } from './lib/random.ts'

const normal = seededNormal(seededRandom(20240501))
const lognormal = Array.from({ length: 50 }, () => Math.round(Math.exp(3 + normal()) * 1000) / 1000)

const datasets: Array<[name: string, values: number[]]> = [
  ['empty', []],
  ['single-one', [1]],
  ['latencies-ms', [0.5, 1, 2.5, 12, 12.1, 12.4, 100, 250.75, 999, 1000]],
  ['zeros-and-tiny', [0, 0, 0, 1e-10, 3, 3, 7.25]],
  ['all-zeros', [0, 0, 0]],
  ['collapsed-1e-6-to-1e12', [1e-6, 2e-6, 1e-3, 1, 1e3, 1e6, 1e9, 1e12]],
  ['seeded-lognormal-50', lognormal],
]
const grid = [0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 1]

const cases = datasets.map(([name, values]) => {
  const sketch = new DDSketch()
  for (const v of values) sketch.add(v)
  const quantiles = sketch.isEmpty ? [] : grid.map((q) => [q, sketch.quantile(q)])
  return { name, values, quantiles, sketch: sketch.toJSON() }
})

const doc = {
  format: 'sketch/1',
  about:
    'Each case: values added in order to new DDSketch(), its exact toJSON(), and [q, quantile(q)] pairs. ' +
    'Encodings are exact in every runtime; quantiles may differ in the last bit (Math.pow is not correctly rounded).',
  cases,
}
// One line per array keeps the 2048-bin case readable.
const text = JSON.stringify(doc, null, 2).replace(
  /\[\s+([^[\]{}]*?)\s+\]/g,
  (_, inner: string) => `[${inner.split(/,\s+/).join(', ')}]`,
)
const out = new URL('../test/vectors/sketch-golden.json', import.meta.url)
writeFileSync(out, `${text}\n`)
console.log(`wrote ${cases.length} cases to ${out.pathname}`)
