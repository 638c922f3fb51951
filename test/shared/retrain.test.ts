import { describe, expect, it } from 'vitest'
import type { CohortMetrics, DriftSummary } from '../../core/formats/fleet.ts'
import { RetrainPolicy } from '../../core/formats/policy.ts'
import {
  closedWindows,
  evaluateWhen,
  inCooldown,
  nextEvaluationAt,
  windowsToRead,
  type PolicyWindow,
} from '../../core/telemetry/retrain.ts'
import { signWebhook, verifyWebhook } from '../../core/webhook/signature.ts'

const NOW = Date.UTC(2026, 10, 26, 12, 7) // 12:07 UTC
const GRACE = 5 * 60_000

function drift(drifted: boolean): DriftSummary {
  return {
    n: 100,
    missing: 0,
    psi: 0.3,
    js: drifted ? 0.3 : 0.02,
    hellinger: 0.2,
    ks: 0.2,
    chi2: 50,
    chi2_p: drifted ? 1e-6 : 0.5,
    dof: 2,
    drifted,
    reason: drifted ? 'drifted' : 'no_drift',
  }
}

/** Window metrics with only the fields a condition reads filled in. */
function metrics(o: {
  devices: number
  drifted?: string[]
  labeled?: number
  accuracy?: number
  inferences?: number
  errorRate?: number
}): CohortMetrics {
  const features = Object.fromEntries(['temp_max', 'wind'].map((n) => [n, drift(o.drifted?.includes(n) ?? false)]))
  return {
    suppressed: false,
    devices: o.devices,
    devicesRelativeError: 0,
    reports: o.devices,
    inferences: o.inferences ?? 1000,
    errors: Math.round((o.errorRate ?? 0) * (o.inferences ?? 1000)),
    errorRate: o.errorRate ?? 0,
    estimated: null,
    minSampleRate: 1,
    latencyMs: null,
    loadMs: null,
    loads: 0,
    cacheHits: 0,
    cacheHitRate: null,
    backends: {},
    fallbacks: {},
    features,
    outputs: {},
    drift: { features: o.drifted ?? [], outputs: [], maxJs: 0.3 },
    shadow: null,
    feedback: o.labeled
      ? { labeled: o.labeled, correct: Math.round((o.accuracy ?? 1) * o.labeled), accuracy: o.accuracy ?? 1 }
      : null,
  }
}

const lookupFrom = (byStart: Record<number, CohortMetrics | null>) => (w: PolicyWindow) => byStart[w.start] ?? null
const policy = (input: unknown) => RetrainPolicy.parse(input)

describe('retraining windows', () => {
  it('are UTC-aligned, closed only after the grace, and the next evaluation is the next close', () => {
    // At 12:07 with 5 min grace the 11:00-12:00 hour is closed (12:05 passed); at 12:04 it is not.
    expect(closedWindows(60, 2, NOW, GRACE)).toEqual([
      { minutes: 60, start: Date.UTC(2026, 10, 26, 10), end: Date.UTC(2026, 10, 26, 11) },
      { minutes: 60, start: Date.UTC(2026, 10, 26, 11), end: Date.UTC(2026, 10, 26, 12) },
    ])
    expect(closedWindows(60, 1, NOW - 3 * 60_000, GRACE)[0].end).toBe(Date.UTC(2026, 10, 26, 11))
    const when = policy({
      when: {
        any: [{ anyFeatureDrifted: { windowMinutes: 60 } }, { errorRateAbove: { value: 0.1, windowMinutes: 15 } }],
      },
    }).when
    expect(nextEvaluationAt(when, NOW, GRACE)).toBe(Date.UTC(2026, 10, 26, 12, 20)) // 12:15 + grace
    expect(windowsToRead(when, NOW, GRACE)).toHaveLength(3) // two hours + one quarter
  })
})

describe('evaluateWhen', () => {
  const [w1, w2] = closedWindows(60, 2, NOW, GRACE)
  const when = policy({
    when: { anyFeatureDrifted: { consecutiveWindows: 2, minDevices: 50, windowMinutes: 60 } },
  }).when

  it('fires when one feature drifted in every one of the consecutive windows, with the evidence', () => {
    const r = evaluateWhen(
      when,
      lookupFrom({
        [w1.start]: metrics({ devices: 80, drifted: ['temp_max'] }),
        [w2.start]: metrics({ devices: 90, drifted: ['temp_max', 'wind'] }),
      }),
      NOW,
      GRACE,
    )
    expect(r.met).toBe(true)
    expect(r.conditions[0]).toMatchObject({ condition: 'anyFeatureDrifted', reason: 'met', name: 'temp_max' })
    expect(r.conditions[0].windows.map((w) => [w.start, w.devices, w.holds])).toEqual([
      [w1.start, 80, true],
      [w2.start, 90, true],
    ])
  })

  it('does not fire on one noisy window, on different features, or with too few devices', () => {
    const cases: [Record<number, CohortMetrics | null>, string][] = [
      [
        { [w1.start]: metrics({ devices: 80 }), [w2.start]: metrics({ devices: 80, drifted: ['temp_max'] }) },
        'not_met',
      ],
      [
        {
          [w1.start]: metrics({ devices: 80, drifted: ['wind'] }),
          [w2.start]: metrics({ devices: 80, drifted: ['temp_max'] }),
        },
        'not_met',
      ],
      [
        {
          [w1.start]: metrics({ devices: 10, drifted: ['temp_max'] }),
          [w2.start]: metrics({ devices: 80, drifted: ['temp_max'] }),
        },
        'insufficient_data',
      ],
      [{ [w1.start]: null, [w2.start]: metrics({ devices: 80, drifted: ['temp_max'] }) }, 'insufficient_data'],
    ]
    for (const [windows, reason] of cases) {
      const r = evaluateWhen(when, lookupFrom(windows), NOW, GRACE)
      expect(r.met).toBe(false)
      expect(r.conditions[0].reason).toBe(reason)
    }
  })

  it('combines conditions with any / all, and judges accuracy and error rate on their sample sizes', () => {
    const [day] = closedWindows(1440, 1, NOW, GRACE)
    const windows = {
      [w1.start]: metrics({ devices: 80 }),
      [w2.start]: metrics({ devices: 80, errorRate: 0.2, inferences: 5000 }),
      [day.start]: metrics({ devices: 500, labeled: 200, accuracy: 0.7 }),
    }
    const acc = { accuracyBelow: { value: 0.8, minLabeled: 100, windowMinutes: 1440 } }
    const err = { errorRateAbove: { value: 0.1, minInferences: 1000, windowMinutes: 60 } }
    const drifted = { anyFeatureDrifted: { windowMinutes: 60 } }
    expect(evaluateWhen(policy({ when: { all: [acc, err] } }).when, lookupFrom(windows), NOW, GRACE).met).toBe(true)
    expect(evaluateWhen(policy({ when: { all: [acc, drifted] } }).when, lookupFrom(windows), NOW, GRACE).met).toBe(
      false,
    )
    expect(evaluateWhen(policy({ when: { any: [acc, drifted] } }).when, lookupFrom(windows), NOW, GRACE).met).toBe(true)
    const few = { ...windows, [day.start]: metrics({ devices: 500, labeled: 50, accuracy: 0.1 }) }
    expect(evaluateWhen(policy({ when: acc }).when, lookupFrom(few), NOW, GRACE).conditions[0].reason).toBe(
      'insufficient_data',
    )
    // What each condition says, met, not met and short of data.
    const says = (when: object, w: Record<number, unknown> = windows) =>
      evaluateWhen(policy({ when }).when, lookupFrom(w as typeof windows), NOW, GRACE).conditions[0].message
    expect(says(acc)).toBe('accuracyBelow: accuracy below 0.8 in 1 consecutive 1440-minute window')
    expect(says({ accuracyBelow: { ...acc.accuracyBelow, value: 0.6 } })).toBe(
      'accuracyBelow: accuracy not below 0.6 in 1 consecutive 1440-minute window',
    )
    expect(says(acc, few)).toBe(
      'accuracyBelow: fewer than 100 labels in one of the last 1 consecutive 1440-minute window',
    )
    expect(says(err)).toBe('errorRateAbove: error rate above 0.1 in 1 consecutive 60-minute window')
    expect(says({ errorRateAbove: { ...err.errorRateAbove, minInferences: 10_000 } })).toBe(
      'errorRateAbove: fewer than 10000 inferences in one of the last 1 consecutive 60-minute window',
    )
  })

  it('has a cooldown measured from the last firing', () => {
    expect(inCooldown(null, 60, NOW)).toBe(false)
    expect(inCooldown(NOW - 59 * 60_000, 60, NOW)).toBe(true)
    expect(inCooldown(NOW - 60 * 60_000, 60, NOW)).toBe(false)
  })
})

describe('RetrainPolicy schema', () => {
  it('fills defaults and refuses what cannot be evaluated, with pointers', () => {
    expect(policy({ when: { anyFeatureDrifted: {} } })).toEqual({
      when: { anyFeatureDrifted: { consecutiveWindows: 2, minDevices: 50, windowMinutes: 60 } },
      cooldownMinutes: 1440,
      graceMinutes: 5,
      enabled: true,
    })
    const bad = (input: unknown) => RetrainPolicy.safeParse(input).error?.issues[0].path.join('/')
    expect(bad({ when: { anyFeatureDrifted: { windowMinutes: 7 } } })).toBe('when/anyFeatureDrifted/windowMinutes')
    expect(bad({ when: { anyFeatureDrifted: {} }, webhook: { url: 'ftp://x.test', secret: 'x'.repeat(16) } })).toBe(
      'webhook/url',
    )
    expect(bad({ when: { anyFeatureDrifted: {} }, webhook: { url: 'https://x.test', secret: 'short' } })).toBe(
      'webhook/secret',
    )
    expect(bad({ when: { all: [] } })).toBe('when/all')
  })
})

describe('webhook signatures', () => {
  const secret = 'whsec_0123456789abcdef'
  const body = JSON.stringify({ id: 'evt_1', type: 'retrain.requested' })

  it('sign as t=<ms>,v1=<hex HMAC-SHA256(secret, t + "." + body)> and verify the exact bytes', async () => {
    const header = await signWebhook(secret, NOW, body)
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/)
    // Independently: HMAC-SHA256 over `${t}.${body}` with WebCrypto.
    const key = await crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    )
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${NOW}.${body}`)))
    expect(header).toBe(`t=${NOW},v1=${Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('')}`)
    expect(await verifyWebhook(secret, header, body, NOW + 1000)).toBe(true)
  })

  it('refuse a changed body, another secret, a stale timestamp or garbage', async () => {
    const header = await signWebhook(secret, NOW, body)
    expect(await verifyWebhook(secret, header, body + ' ', NOW)).toBe(false)
    expect(await verifyWebhook('another-secret-value', header, body, NOW)).toBe(false)
    expect(await verifyWebhook(secret, header, body, NOW + 10 * 60_000)).toBe(false)
    expect(await verifyWebhook(secret, 'garbage', body, NOW)).toBe(false)
    expect(await verifyWebhook(secret, null, body, NOW)).toBe(false)
  })
})
