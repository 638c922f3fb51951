import { seededRandom } from '../../scripts/lib/random.ts'

/**
 * A sample the drift fixtures store as a recipe instead of data (scripts/make-drift-fixtures.py).
 * Only mulberry32 and IEEE basic operations are involved, which round identically in numpy and every
 * JavaScript engine, so the regenerated values are bit for bit those scipy was given.
 */
export type SampleSpec =
  | { seed: number; n: number; kind: 'uniform'; lo: number; hi: number }
  | { seed: number; n: number; kind: 'bell'; shift: number; scale: number }
  | { seed: number; n: number; kind: 'int'; k: number; shift: number }

/** Regenerates a fixture sample: uniform lo + (hi − lo)·u, Irwin–Hall(4) bell, or shift + ⌊u·k⌋. */
export function generateSample(spec: SampleSpec): Float64Array {
  const draw = seededRandom(spec.seed)
  const out = new Float64Array(spec.n)
  for (let i = 0; i < spec.n; i++) {
    if (spec.kind === 'uniform') {
      out[i] = spec.lo + (spec.hi - spec.lo) * draw()
    } else if (spec.kind === 'bell') {
      // Left to right, as the Python mirror sums them.
      const s = draw() + draw() + draw() + draw()
      out[i] = spec.shift + spec.scale * (s - 2)
    } else {
      out[i] = spec.shift + Math.floor(draw() * spec.k)
    }
  }
  return out
}
