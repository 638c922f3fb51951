import { describe, expect, it } from 'vitest'
import { Rollout, RolloutConfig, RolloutStats } from '../../core/formats/rollout.ts'
import { decide } from '../../core/rollout/decide.ts'
import { sampleRatio } from '../../core/rollout/srm.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'

const MIN = 60_000
const T0 = Date.UTC(2026, 10, 26, 12, 0)
const NOW = T0 + 120 * MIN // two hours into the step: past every minimum and the SRM grace

const STEPS = [
  { percent: 5, minMinutes: 60, minDevices: 50, minInferences: 10_000 },
  { percent: 25, minMinutes: 60, minDevices: 50, minInferences: 10_000 },
  { percent: 100, minMinutes: 60, minDevices: 50, minInferences: 10_000 },
]

interface ArmSpec {
  /** Exact distinct devices in the step (the SRM and minimum counts). */
  devices?: number
  /** Devices with per-device rows (the guardrail sample). */
  sampled?: number
  inferences?: number
  errorRate?: number
  fallbackRate?: number
  disagreement?: number
  accuracy?: number
  labeled?: number
  p95?: number
  drift?: number | null
  /** Data-quality counts: `rows` per feature, `bad` of them with a problem, in feature `feature` (default `temp_max`). */
  quality?: { rows: number; bad: number; feature?: string }
}

/** One arm: per-device rates alternate ±20% around the given rate so the sample has variance. */
function arm(s: ArmSpec = {}) {
  const sampled = s.sampled ?? 100
  const perDeviceInferences = 1000
  const perDevice = Array.from({ length: sampled }, (_, i) => {
    const wobble = i % 2 === 0 ? 0.8 : 1.2
    const labeled = Math.round((s.labeled ?? 0) / sampled)
    return {
      inferences: perDeviceInferences,
      errors: Math.round(perDeviceInferences * (s.errorRate ?? 0.01) * wobble),
      fallbacks: Math.round(perDeviceInferences * (s.fallbackRate ?? 0.01) * wobble),
      compared: 100,
      agreed: 100 - Math.round(100 * (s.disagreement ?? 0.02) * wobble),
      labeled,
      correct: Math.round(labeled * (s.accuracy ?? 0.9)),
    }
  })
  const sketch = new DDSketch()
  const p95 = s.p95 ?? 20
  for (let i = 0; i < 100; i++) sketch.add(i < 95 ? (p95 * (i + 1)) / 95 : p95 * 1.5)
  return {
    devices: s.devices ?? 1000,
    inferences: s.inferences ?? 200_000,
    perDevice,
    latency: sketch.toJSON(),
    driftJsMax: s.drift === undefined ? 0.05 : s.drift,
    ...(s.quality
      ? {
          quality: {
            [s.quality.feature ?? 'temp_max']: {
              rows: s.quality.rows,
              missing: s.quality.bad,
              nonFinite: 0,
              wrongType: 0,
              outOfRange: 0,
              unknownCategory: 0,
            },
          },
        }
      : {}),
  }
}

interface Case {
  config?: Record<string, unknown>
  state?: Partial<Rollout['state']>
  baseline?: ArmSpec
  candidate?: ArmSpec
  now?: number
  expected: [action: string, reason: string]
}

/** At 5% a balanced split is 50 candidate devices to 950 baseline. */
const balanced5 = { baseline: { devices: 950 }, candidate: { devices: 50 } }

function run(c: Case) {
  const rollout = Rollout.parse({
    config: {
      candidate: 2,
      baseline: 1,
      mode: 'canary',
      steps: STEPS,
      guardrails: [],
      evaluationSeconds: 300,
      ...c.config,
    },
    state: { id: 'r1', status: 'running', step: 0, stepStartedAt: T0, ...c.state },
  })
  const stats = RolloutStats.parse({
    baseline: arm({ ...balanced5.baseline, ...c.baseline }),
    candidate: arm({ ...balanced5.candidate, ...c.candidate }),
  })
  return decide(rollout, stats, c.now ?? NOW)
}

const g = (guardrail: Record<string, unknown>) => ({ guardrails: [guardrail] })

const cases: [string, Case][] = [
  // Rate guardrails: the candidate compared with the baseline (maxDiff) or a bound (max).
  [
    'error_rate maxDiff: breach',
    {
      config: g({ metric: 'error_rate', maxDiff: 0.005 }),
      candidate: { errorRate: 0.03 },
      expected: ['rollback', 'guardrail:error_rate'],
    },
  ],
  [
    'error_rate maxDiff: within margin',
    {
      config: g({ metric: 'error_rate', maxDiff: 0.005 }),
      candidate: { errorRate: 0.012 },
      expected: ['advance', 'step_complete'],
    },
  ],
  [
    'error_rate max: breach',
    {
      config: g({ metric: 'error_rate', max: 0.01 }),
      candidate: { errorRate: 0.03 },
      baseline: { errorRate: 0.03 },
      expected: ['rollback', 'guardrail:error_rate'],
    },
  ],
  [
    'error_rate max: below',
    {
      config: g({ metric: 'error_rate', max: 0.02 }),
      candidate: { errorRate: 0.01 },
      expected: ['advance', 'step_complete'],
    },
  ],
  [
    'error_rate: too few devices to test',
    {
      config: g({ metric: 'error_rate', maxDiff: 0.005 }),
      candidate: { errorRate: 0.5, sampled: 5 },
      expected: ['advance', 'step_complete'],
    },
  ],
  [
    'fallback_rate maxDiff: breach',
    {
      config: g({ metric: 'fallback_rate', maxDiff: 0.01 }),
      candidate: { fallbackRate: 0.1 },
      expected: ['rollback', 'guardrail:fallback_rate'],
    },
  ],
  [
    'fallback_rate maxDiff: no breach',
    {
      config: g({ metric: 'fallback_rate', maxDiff: 0.01 }),
      candidate: { fallbackRate: 0.01 },
      expected: ['advance', 'step_complete'],
    },
  ],
  [
    'shadow_disagreement max: breach',
    {
      config: { mode: 'shadow', ...g({ metric: 'shadow_disagreement', max: 0.05 }) },
      candidate: { disagreement: 0.2 },
      expected: ['rollback', 'guardrail:shadow_disagreement'],
    },
  ],
  [
    'shadow_disagreement max: no breach',
    {
      config: { mode: 'shadow', ...g({ metric: 'shadow_disagreement', max: 0.05 }) },
      candidate: { disagreement: 0.02 },
      expected: ['advance', 'step_complete'],
    },
  ],
  // Latency: ratio of p95 from merged sketches, only with minDevices on both arms.
  [
    'latency_p95: breach',
    {
      config: g({ metric: 'latency_p95', maxRatio: 1.2 }),
      candidate: { p95: 40 },
      expected: ['rollback', 'guardrail:latency_p95'],
    },
  ],
  [
    'latency_p95: no breach',
    {
      config: g({ metric: 'latency_p95', maxRatio: 1.2 }),
      candidate: { p95: 22 },
      expected: ['advance', 'step_complete'],
    },
  ],
  [
    'latency_p95: not judged below minDevices',
    {
      config: g({ metric: 'latency_p95', maxRatio: 1.2 }),
      baseline: { devices: 570 },
      candidate: { devices: 30, p95: 400 },
      expected: ['hold', 'insufficient_devices'],
    },
  ],
  // Drift and accuracy: absolute checks with minimum samples.
  [
    'drift_js_max: breach',
    {
      config: g({ metric: 'drift_js_max', max: 0.2 }),
      candidate: { drift: 0.35 },
      expected: ['rollback', 'guardrail:drift_js_max'],
    },
  ],
  [
    'drift_js_max: no breach',
    {
      config: g({ metric: 'drift_js_max', max: 0.2 }),
      candidate: { drift: 0.1 },
      expected: ['advance', 'step_complete'],
    },
  ],
  [
    'drift_js_max: not judged below minDevices',
    {
      config: g({ metric: 'drift_js_max', max: 0.2 }),
      baseline: { devices: 570 },
      candidate: { devices: 30, drift: 0.9 },
      expected: ['hold', 'insufficient_devices'],
    },
  ],
  [
    'accuracy: breach',
    {
      config: g({ metric: 'accuracy', minRatio: 0.98 }),
      baseline: { labeled: 2000, accuracy: 0.9 },
      candidate: { labeled: 2000, accuracy: 0.8 },
      expected: ['rollback', 'guardrail:accuracy'],
    },
  ],
  [
    'accuracy: no breach',
    {
      config: g({ metric: 'accuracy', minRatio: 0.98 }),
      baseline: { labeled: 2000, accuracy: 0.9 },
      candidate: { labeled: 2000, accuracy: 0.89 },
      expected: ['advance', 'step_complete'],
    },
  ],
  [
    'accuracy: too few labels',
    {
      config: g({ metric: 'accuracy', minRatio: 0.98 }),
      baseline: { labeled: 2000, accuracy: 0.9 },
      candidate: { labeled: 0, accuracy: 0 },
      expected: ['advance', 'step_complete'],
    },
  ],
  // Sample-ratio mismatch: 50/50 at a 5% step, judged only after ttlSeconds + one window.
  [
    'srm: pauses after the grace time',
    { baseline: { devices: 500 }, candidate: { devices: 500 }, expected: ['pause', 'srm'] },
  ],
  [
    'srm: not judged within the grace time',
    {
      baseline: { devices: 500 },
      candidate: { devices: 500 },
      now: T0 + 5 * MIN,
      expected: ['hold', 'insufficient_time'],
    },
  ],
  [
    'srm: balanced split advances',
    { baseline: { devices: 960 }, candidate: { devices: 40 + 20 }, expected: ['advance', 'step_complete'] },
  ],
  // Minimums of the step, per arm.
  [
    'minimum devices: candidate arm short',
    { baseline: { devices: 931 }, candidate: { devices: 49 }, expected: ['hold', 'insufficient_devices'] },
  ],
  [
    'minimum inferences: baseline arm short',
    { baseline: { inferences: 9_999 }, expected: ['hold', 'insufficient_inferences'] },
  ],
  ['step timing: minMinutes not reached', { now: T0 + 59 * MIN, expected: ['hold', 'insufficient_time'] }],
  ['step timing: minMinutes reached', { now: T0 + 60 * MIN, expected: ['advance', 'step_complete'] }],
  [
    'last step: promotes (baseline arm expected empty at 100%)',
    {
      state: { step: 2 },
      baseline: { devices: 0, inferences: 0 },
      candidate: { devices: 1000 },
      expected: ['promote', 'last_step_complete'],
    },
  ],
  [
    'ab: never auto-advances',
    {
      config: { mode: 'ab', steps: [{ percent: 50, minMinutes: 60, minDevices: 50 }] },
      baseline: { devices: 500 },
      candidate: { devices: 500 },
      expected: ['hold', 'ab_needs_manual_decision'],
    },
  ],
  [
    'ab: a breach still rolls back',
    {
      config: {
        mode: 'ab',
        steps: [{ percent: 50, minMinutes: 60, minDevices: 50 }],
        ...g({ metric: 'error_rate', maxDiff: 0.005 }),
      },
      baseline: { devices: 500 },
      candidate: { devices: 500, errorRate: 0.05 },
      expected: ['rollback', 'guardrail:error_rate'],
    },
  ],
  ['paused rollout holds', { state: { status: 'paused' }, expected: ['hold', 'paused'] }],
  [
    'rolled-back rollout holds',
    { state: { status: 'rolled_back' }, candidate: { errorRate: 0.5 }, expected: ['hold', 'rolled_back'] },
  ],
  [
    'a breach wins over srm',
    {
      config: g({ metric: 'error_rate', maxDiff: 0.005 }),
      baseline: { devices: 500 },
      candidate: { devices: 500, errorRate: 0.05 },
      expected: ['rollback', 'guardrail:error_rate'],
    },
  ],
]

cases.push(
  // data_quality: the worst feature's problem rate, against the baseline's worst or absolute.
  [
    'data_quality: candidate worse than baseline by more than maxRate',
    {
      config: g({ metric: 'data_quality', maxRate: 0.02 }),
      baseline: { quality: { rows: 10_000, bad: 100 } },
      candidate: { quality: { rows: 1000, bad: 40 } },
      expected: ['rollback', 'guardrail:data_quality'],
    },
  ],
  [
    'data_quality: a problem the baseline shares is not held against the candidate',
    {
      config: g({ metric: 'data_quality', maxRate: 0.02 }),
      baseline: { quality: { rows: 10_000, bad: 3000, feature: 'wind' } },
      candidate: { quality: { rows: 1000, bad: 310 } },
      expected: ['advance', 'step_complete'],
    },
  ],
  [
    'data_quality absolute: the candidate alone over maxRate',
    {
      config: g({ metric: 'data_quality', maxRate: 0.2, absolute: true }),
      candidate: { quality: { rows: 1000, bad: 310 } },
      expected: ['rollback', 'guardrail:data_quality'],
    },
  ],
  [
    'data_quality: too few candidate rows is not judged',
    {
      config: g({ metric: 'data_quality', maxRate: 0.02, minRows: 500 }),
      baseline: { quality: { rows: 10_000, bad: 0 } },
      candidate: { quality: { rows: 499, bad: 499 } },
      expected: ['advance', 'step_complete'],
    },
  ],
  [
    'data_quality: a candidate arm under the step minDevices is not judged',
    {
      config: g({ metric: 'data_quality', maxRate: 0.2, absolute: true }),
      candidate: { devices: 49, quality: { rows: 1000, bad: 1000 } },
      expected: ['hold', 'insufficient_devices'],
    },
  ],
  [
    'data_quality: no baseline counts is not judged unless absolute',
    {
      config: g({ metric: 'data_quality', maxRate: 0.02 }),
      candidate: { quality: { rows: 1000, bad: 1000 } },
      expected: ['advance', 'step_complete'],
    },
  ],
)

describe('decide', () => {
  it.each(cases)('%s', (_name, c) => {
    const d = run(c)
    expect([d.action, d.reason]).toEqual(c.expected)
  })

  it('puts the statistics of a breach in the evidence, with α split over the rate guardrails', () => {
    const d = run({
      config: {
        alpha: 0.05,
        guardrails: [
          { metric: 'error_rate', maxDiff: 0.005 },
          { metric: 'fallback_rate', maxDiff: 0.01 },
          { metric: 'latency_p95', maxRatio: 1.2 },
        ],
      },
      candidate: { errorRate: 0.03 },
      expected: ['rollback', 'guardrail:error_rate'],
    })
    const [err, fb, lat] = d.evidence.guardrails
    expect(err).toMatchObject({ metric: 'error_rate', status: 'breach', limit: 0.005 })
    expect(err.test?.alpha).toBe(0.025)
    expect(err.test?.pvalue).toBeLessThan(0.025)
    expect(err.value).toBeCloseTo(0.02, 3)
    expect(fb).toMatchObject({ status: 'ok' })
    expect(lat).toMatchObject({ status: 'ok', value: expect.closeTo(1, 1) })
    expect(d.evidence.srm).toMatchObject({ srm: false, reason: 'balanced' })
  })

  it('puts the rates, rows and worst feature of a data_quality verdict in the evidence', () => {
    const d = run({
      config: g({ metric: 'data_quality', maxRate: 0.02 }),
      baseline: { quality: { rows: 10_000, bad: 100, feature: 'wind' } },
      candidate: { quality: { rows: 1000, bad: 40 } },
      expected: ['rollback', 'guardrail:data_quality'],
    })
    expect(d.evidence.guardrails[0]).toEqual({
      metric: 'data_quality',
      status: 'breach',
      reason: 'judged',
      value: 0.04 - 0.01,
      limit: 0.02,
      feature: 'temp_max',
      stats: { candidateRows: 1000, candidateRate: 0.04, baselineRows: 10_000, baselineRate: 0.01 },
    })
    const short = run({
      config: g({ metric: 'data_quality', maxRate: 0.02 }),
      candidate: { quality: { rows: 1000, bad: 40 } },
      expected: ['advance', 'step_complete'],
    })
    expect(short.evidence.guardrails[0]).toMatchObject({ status: 'not_judged', reason: 'no_data', value: null })
  })

  it('accepts sufficient statistics instead of per-device rows', () => {
    const rollout = Rollout.parse({
      config: { candidate: 2, mode: 'canary', steps: STEPS, guardrails: [{ metric: 'error_rate', max: 0.01 }] },
      state: { id: 'r1', status: 'running', step: 0, stepStartedAt: T0 },
    })
    const moments = (mean: number, n = 100) => ({ n, sum: mean * n, sumSq: n * (mean * mean + 0.0001) })
    const summary = (mean: number) => ({
      inferences: 200_000,
      labeled: 0,
      correct: 0,
      rates: { error_rate: moments(mean), fallback_rate: moments(0), shadow_disagreement: moments(0) },
    })
    const armOf = (devices: number, mean: number) => ({
      devices,
      inferences: 200_000,
      summary: summary(mean),
      latency: null,
      driftJsMax: null,
    })
    expect(
      decide(rollout, RolloutStats.parse({ baseline: armOf(950, 0.005), candidate: armOf(50, 0.05) }), NOW),
    ).toMatchObject({ action: 'rollback', reason: 'guardrail:error_rate' })
    expect(
      decide(rollout, RolloutStats.parse({ baseline: armOf(950, 0.005), candidate: armOf(50, 0.005) }), NOW),
    ).toMatchObject({ action: 'advance' })
  })
})

describe('sampleRatio', () => {
  const config = { steps: STEPS, ttlSeconds: 30, evaluationSeconds: 300 }
  it.each([
    ['before ttl + one window', 5, 95, T0 + 329_999, 'too_early'],
    ['balanced after the grace', 950, 50, T0 + 330_000, 'balanced'],
    ['skewed after the grace', 900, 100, T0 + 330_000, 'srm'],
    ['no devices', 0, 0, NOW, 'no_devices'],
  ] as const)('%s', (_name, baseline, candidate, now, reason) => {
    expect(sampleRatio(config, 0, T0, { baseline, candidate }, now).reason).toBe(reason)
  })

  it('matches scipy.stats.chisquare([900, 100], [950, 50])', () => {
    // statistic = 50²/950 + 50²/50 = 52.6315…; p = chi2.sf(52.63, 1) ≈ 4.0e-13
    const r = sampleRatio(config, 0, T0, { baseline: 900, candidate: 100 }, NOW)
    expect(r.statistic).toBeCloseTo(52.631578947, 6)
    expect(r.pvalue).toBeGreaterThan(1e-13)
    expect(r.pvalue).toBeLessThan(1e-12)
  })

  it('rejects configs the contract forbids', () => {
    const base = { candidate: 2, mode: 'canary', guardrails: [] }
    expect(
      RolloutConfig.safeParse({
        ...base,
        steps: [
          { percent: 5, minDevices: 1 },
          { percent: 5, minDevices: 1 },
        ],
      }).success,
    ).toBe(false)
    expect(RolloutConfig.safeParse({ ...base, steps: [{ percent: 101, minDevices: 1 }] }).success).toBe(false)
    expect(
      RolloutConfig.safeParse({
        ...base,
        mode: 'ab',
        steps: [
          { percent: 10, minDevices: 1 },
          { percent: 50, minDevices: 1 },
        ],
      }).success,
    ).toBe(false)
    expect(
      RolloutConfig.safeParse({
        ...base,
        steps: [{ percent: 5, minDevices: 1 }],
        guardrails: [{ metric: 'error_rate', max: 0.01, maxDiff: 0.01 }],
      }).success,
    ).toBe(false)
    expect(RolloutConfig.parse({ ...base, steps: [{ percent: 5, minDevices: 1 }] }).alpha).toBe(0.05)
  })
})
