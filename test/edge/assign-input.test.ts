// The assign route checks its query by hand on the common path (edge/routes/assign.ts, `assignInput`);
// it must accept exactly what the route's schemas accept, return the same values, and fail with the
// error the schemas' first issue gives. Seeded queries, valid and hostile, hold the two to each other.
import { describe, expect, it } from 'vitest'
import { isEdgefleetError } from '../../core/errors.ts'
import { validationError } from '../../edge/http/errors.ts'
import { AssignQuery, assignInput } from '../../edge/routes/assign.ts'
import { modelParam } from '../../edge/routes/models.ts'
import { seededRandom } from '../../scripts/lib/random.ts'

/** What the schemas answer for a query as Hono parses it, and a model name. */
function reference(queries: Record<string, string[]>, model: string): { ok: unknown } | { error: string } {
  const raw = Object.fromEntries(Object.entries(queries).map(([k, v]) => [k, v.length === 1 ? v[0] : v]))
  const q = AssignQuery.safeParse(raw)
  if (!q.success) return { error: validationError(q.error, 'query').message }
  const p = modelParam.safeParse({ model })
  if (!p.success) return { error: validationError(p.error, 'param').message }
  return { ok: { query: q.data, model: p.data.model } }
}

function actual(queries: Record<string, string[]>, model: string): { ok: unknown } | { error: string } {
  try {
    return { ok: assignInput(queries, model) }
  } catch (e) {
    if (isEdgefleetError(e) && e.code === 'validation_failed') return { error: e.message }
    throw e
  }
}

const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!

const DEVICES = [
  'device_000001',
  'short',
  'a'.repeat(128),
  'a'.repeat(129),
  'dev ice_0001',
  'dévice_0001',
  'abc-DEF_123',
  '',
]
const CAPS = ['webgpu:1,cores:8', 'x'.repeat(256), 'x'.repeat(257), '', 'webgpu:0']
const COHORTS = ['beta', '', 'x'.repeat(300), '‮rtl']
const EXCLUDES = ['3:fp16', '3:fp16,4:q8', '0:fp16', '3:FP16', '', '3:fp16,'.repeat(17).slice(0, -1), '1:a']
const MODELS = ['weather', 'Weather', 'a'.repeat(64), 'a'.repeat(65), '', 'we ather', 'model-1']

describe('assignInput', () => {
  it('accepts, returns and refuses exactly what the route schemas do (2,000 seeded queries)', () => {
    const rand = seededRandom(20261206)
    let accepted = 0
    let refused = 0
    for (let i = 0; i < 2000; i++) {
      const queries: Record<string, string[]> = {}
      const values = (pool: readonly string[]) => {
        const n = rand() < 0.85 ? 1 : rand() < 0.5 ? 2 : 0
        return Array.from({ length: n }, () => pick(rand, pool))
      }
      if (rand() < 0.95) queries.device = values(DEVICES)
      if (rand() < 0.4) queries.caps = values(CAPS)
      if (rand() < 0.3) queries.cohort = values(COHORTS)
      if (rand() < 0.3) queries.exclude = values(EXCLUDES)
      if (rand() < 0.2) queries.key = ['app_key']
      for (const k of Object.keys(queries)) if (queries[k]!.length === 0) delete queries[k]
      const model = pick(rand, MODELS)
      const want = reference(queries, model)
      expect(actual(queries, model), JSON.stringify({ queries, model })).toEqual(want)
      if ('ok' in want) accepted++
      else refused++
    }
    // Both paths were exercised many times.
    expect(accepted).toBeGreaterThan(100)
    expect(refused).toBeGreaterThan(300)
  })

  it('names the first problem as the schemas do, and drops parameters it does not know', () => {
    expect(actual({ device: ['device_000001', 'device_000002'] }, 'weather')).toEqual({
      error: expect.stringMatching(/^query device: /),
    })
    expect(actual({ device: ['device_000001'] }, 'Weather')).toEqual({ error: expect.stringMatching(/^param model: /) })
    expect(actual({ device: ['device_000001'], key: ['k'], cohort: ['beta'] }, 'weather')).toEqual({
      ok: { query: { device: 'device_000001', cohort: 'beta' }, model: 'weather' },
    })
  })
})
