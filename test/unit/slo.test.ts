import { describe, expect, it } from 'vitest'
import { SloConfig, type Objective } from '../../core/formats/slo.ts'
import { budgetRemaining, burnRate, periodMs, stateOf, targetOf, transitionEvent } from '../../core/slo/burn-rate.ts'
import { eventsOf, type WindowFigures } from '../../core/slo/indicator.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import { seededRandom } from '../../scripts/lib/random.ts'

const errors: Objective = { name: 'errors', kind: 'error_rate', target: 0.999 }

function figures(o: Partial<WindowFigures> = {}): WindowFigures {
  return {
    inferences: 0,
    errors: 0,
    latency: new DDSketch(),
    loadMs: new DDSketch(),
    devices: 0,
    fellBack: 0,
    ...o,
  }
}

describe('burn rates (hand-computed)', () => {
  it('is the bad share over the allowed share', () => {
    expect(burnRate(30, 1000, 0.999)).toBeCloseTo(30, 10) // 3 % errors against 0.1 %
    expect(burnRate(1, 1000, 0.999)).toBeCloseTo(1, 10) // exactly on budget
    expect(burnRate(5, 100, 0.95)).toBeCloseTo(1, 10)
    expect(burnRate(0, 1000, 0.99)).toBe(0)
    expect(burnRate(0, 0, 0.99)).toBeNull()
    expect(burnRate(50, 10, 0.9)).toBeCloseTo(10, 10) // more bad than total counts as all bad
  })

  it('pages on 1 h AND 5 m at 14.4, tickets on 6 h AND 30 m at 6, else ok', () => {
    expect(stateOf({ '5m': 14.4, '30m': 0, '1h': 14.4, '6h': 0 }).value).toBe('breached-fast')
    expect(stateOf({ '5m': 100, '30m': 100, '1h': 100, '6h': 100 }).value).toBe('breached-fast')
    expect(stateOf({ '5m': 14.3, '30m': 20, '1h': 20, '6h': 20 }).value).toBe('breached-slow')
    expect(stateOf({ '5m': 0, '30m': 6, '1h': 1, '6h': 6 }).value).toBe('breached-slow')
    // The long window alone, or the short window alone, is not enough.
    expect(stateOf({ '5m': 0, '30m': 5.9, '1h': 50, '6h': 50 }).value).toBe('ok')
    expect(stateOf({ '5m': 50, '30m': 50, '1h': 14, '6h': 5 }).value).toBe('ok')
    // A window without events never holds.
    expect(stateOf({ '5m': null, '30m': null, '1h': 50, '6h': 50 }).value).toBe('ok')
    expect(stateOf({ '5m': 20, '30m': 7, '1h': 20, '6h': 7 }).reason).toBe('burn rate 20 over 1h and 20 over 5m ≥ 14.4')
  })

  it('leaves the error budget as 1 − the period burn rate', () => {
    // 0.999 over 10,000 inferences allows 10 errors.
    expect(budgetRemaining(0, 10_000, 0.999)).toBeCloseTo(1, 10)
    expect(budgetRemaining(5, 10_000, 0.999)).toBeCloseTo(0.5, 10)
    expect(budgetRemaining(10, 10_000, 0.999)).toBeCloseTo(0, 10)
    expect(budgetRemaining(25, 10_000, 0.999)).toBeCloseTo(-1.5, 10)
    expect(budgetRemaining(0, 0, 0.999)).toBe(1)
  })

  it('records breaches when the state worsens and a recovery when it returns to ok, nothing otherwise', () => {
    expect(transitionEvent('ok', 'breached-slow')).toBe('slo.breached')
    expect(transitionEvent('ok', 'breached-fast')).toBe('slo.breached')
    expect(transitionEvent('breached-slow', 'breached-fast')).toBe('slo.breached')
    expect(transitionEvent('breached-fast', 'breached-slow')).toBeNull()
    expect(transitionEvent('breached-fast', 'ok')).toBe('slo.recovered')
    expect(transitionEvent('breached-slow', 'ok')).toBe('slo.recovered')
    expect(transitionEvent('ok', 'ok')).toBeNull()
    expect(transitionEvent('breached-fast', 'breached-fast')).toBeNull()
  })

  it('takes the target of latency objectives from their percentile', () => {
    expect(targetOf({ name: 'l', kind: 'latency', percentile: 99, thresholdMs: 50 })).toBe(0.99)
    expect(targetOf({ name: 'l', kind: 'load_time', percentile: 95, thresholdMs: 500 })).toBe(0.95)
    expect(targetOf(errors)).toBe(0.999)
    expect(periodMs('28d')).toBe(28 * 86_400_000)
  })
})

describe('DDSketch.countAtMost', () => {
  it("counts every value at most x, and otherwise only values of x's own bin (≤ γ·x), over seeded datasets", () => {
    const rand = seededRandom(1201)
    const gamma = 1.01 / 0.99
    for (let run = 0; run < 40; run++) {
      const sketch = new DDSketch()
      const values: number[] = []
      const n = 1 + Math.floor(rand() * 2000)
      const scale = 10 ** (rand() * 6 - 2)
      for (let i = 0; i < n; i++) {
        const v = rand() < 0.05 ? 0 : scale * Math.exp(rand() * 4)
        values.push(v)
        sketch.add(v)
      }
      for (let k = 0; k < 20; k++) {
        const x = scale * Math.exp(rand() * 5 - 0.5)
        const got = sketch.countAtMost(x)
        expect(got).toBeGreaterThanOrEqual(values.filter((v) => v <= x).length)
        expect(got).toBeLessThanOrEqual(values.filter((v) => v <= x * gamma * (1 + 1e-12)).length)
      }
      expect(sketch.countAtMost(Math.max(...values))).toBe(n)
      expect(sketch.countAtMost(-1)).toBe(0)
    }
    expect(new DDSketch().countAtMost(5)).toBe(0)
  })
})

describe('indicators', () => {
  it('counts latencies over the threshold from the sketch, exactly away from the threshold', () => {
    const rand = seededRandom(12)
    const latency = new DDSketch()
    const values: number[] = []
    for (let i = 0; i < 5000; i++) {
      const v = rand() < 0.9 ? 1 + rand() * 20 : 80 + rand() * 100
      values.push(v)
      latency.add(v)
    }
    const o: Objective = { name: 'l', kind: 'latency', percentile: 99, thresholdMs: 50 }
    const exactBad = values.filter((v) => v > 50).length
    expect(eventsOf(o, figures({ latency }))).toEqual({ bad: exactBad, total: 5000 })
    // Above the maximum: all good; below the minimum: all bad.
    expect(eventsOf({ ...o, thresholdMs: 1000 }, figures({ latency })).bad).toBe(0)
    expect(eventsOf({ ...o, thresholdMs: 0.5 }, figures({ latency })).bad).toBe(5000)
  })

  it('counts within the sketch accuracy at the threshold', () => {
    const latency = new DDSketch()
    for (const v of [9.7, 9.99, 10, 10.1, 10.5, 11]) latency.add(v)
    // Every value ≤ 10 is good; 10.1 shares 10's bin (bins span 2 %), so it may count as good too.
    const { bad } = eventsOf({ name: 'l', kind: 'latency', percentile: 95, thresholdMs: 10 }, figures({ latency }))
    expect(bad).toBeGreaterThanOrEqual(2)
    expect(bad).toBeLessThanOrEqual(3)
  })

  it('counts errors of inferences, fallbacks of devices, load times of loads', () => {
    expect(eventsOf(errors, figures({ inferences: 1000, errors: 7 }))).toEqual({ bad: 7, total: 1000 })
    expect(eventsOf(errors, figures({ inferences: 3, errors: 7 }))).toEqual({ bad: 3, total: 3 })
    expect(eventsOf({ name: 'f', kind: 'fallback_rate', target: 0.99 }, figures({ devices: 40, fellBack: 3 }))).toEqual(
      { bad: 3, total: 40 },
    )
    const loadMs = new DDSketch().add(100, 8).add(3000, 2)
    expect(eventsOf({ name: 'l', kind: 'load_time', percentile: 95, thresholdMs: 2000 }, figures({ loadMs }))).toEqual({
      bad: 2,
      total: 10,
    })
  })
})

describe('SloConfig', () => {
  it('fills defaults', () => {
    expect(SloConfig.parse({ objectives: [errors] })).toEqual({ objectives: [errors], period: '28d', enabled: true })
  })

  it.each([
    ['no objectives', { objectives: [] }, ['objectives']],
    ['a target of 1', { objectives: [{ ...errors, target: 1 }] }, ['objectives', 0, 'target']],
    [
      'a percentile of 90',
      { objectives: [{ name: 'l', kind: 'latency', percentile: 90, thresholdMs: 5 }] },
      ['objectives', 0, 'percentile'],
    ],
    [
      'a zero threshold',
      { objectives: [{ name: 'l', kind: 'latency', percentile: 99, thresholdMs: 0 }] },
      ['objectives', 0, 'thresholdMs'],
    ],
    ['an unknown kind', { objectives: [{ name: 'x', kind: 'accuracy', target: 0.9 }] }, ['objectives', 0, 'kind']],
    ['a period of 91 days', { objectives: [errors], period: '91d' }, ['period']],
    ['a period in hours', { objectives: [errors], period: '12h' }, ['period']],
    ['a name used twice', { objectives: [errors, { ...errors, target: 0.99 }] }, ['objectives', 1, 'name']],
    ['an unknown field', { objectives: [errors], window: '1h' }, []],
  ])('refuses %s', (_, body, path) => {
    const r = SloConfig.safeParse(body)
    expect(r.success).toBe(false)
    expect(r.error!.issues[0].path).toEqual(path)
  })
})
