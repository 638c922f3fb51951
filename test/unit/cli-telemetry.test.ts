// `edgefleet telemetry` and `edgefleet policy` in-process, through the real `run()`, against the fake
// edge installed as `fetch`: the summary a person reads, the query sent, and local policy checks.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeEdge, runCli, useFakeEdge } from '../helpers/fake-edge.ts'

const vectors = (name: string) =>
  JSON.parse(readFileSync(join(import.meta.dirname, '../vectors/formats', name), 'utf8'))
// One visible cohort with drift, and a suppressed shadow arm of a rollout.
const fleetView = vectors('fleet-view.valid.json')[0].value

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-telemetry-'))
const file = (name: string) => join(dir, name)
const policy = {
  when: { any: [{ anyFeatureDrifted: { names: ['temp_max'] } }, { accuracyBelow: { value: 0.8 } }] },
  version: 3,
  webhook: { url: 'https://trainer.example.com/hooks/edgefleet', secret: 'a-secret-of-32-characters-or-so!' },
}
writeFileSync(file('policy.json'), JSON.stringify(policy))
writeFileSync(file('bad-policy.json'), JSON.stringify({ when: { anyFeatureDrifted: { windowMinutes: 7 } } }))
writeFileSync(file('broken.json'), '{"when": ')

afterAll(() => rmSync(dir, { recursive: true, force: true }))

let edge: FakeEdge

beforeEach(() => {
  edge = new FakeEdge()
  edge.fleetViews.set('seattle-weather', fleetView)
  edge.models.set('seattle-weather', {
    name: 'seattle-weather',
    format: 'tfjs-layers',
    task: 'classification',
    signature: null,
    versions: [],
    aliases: {},
  })
  return useFakeEdge(edge)
})

const cli = runCli

describe('edgefleet telemetry', () => {
  it('summarizes each cohort: counts, rates, quantiles, backends, fallbacks, shadow, accuracy and a drift table', async () => {
    const r = await cli('telemetry', 'seattle-weather')
    expect(r).toMatchObject({ code: 0, err: '' })
    expect(r.out).toBe(
      [
        'seattle-weather  2024-06-03T14:00:00Z → 2024-06-03T15:00:00Z  by minute, cohorts under 5 devices suppressed',
        '',
        'v3 primary',
        '  devices     6',
        '  inferences  60, 3 errors (5.0%)',
        '  latency     p50 2.59 ms  p95 4.35 ms  p99 4.90 ms',
        '  load        p50 205 ms  (1 load, cache hits 0.0%)',
        '  backends    wasm 66.7%, webgpu 33.3%',
        '  fallbacks   webgpu:unavailable (3 devices)',
        '  shadow      52.5% agree (40 compared)',
        '  accuracy    20.0% (25 labeled)',
        '',
        '  feature    n      psi       js  chi² p  drifted',
        '  --------  --  -------  -------  ------  -------',
        '  temp_max  60   0.1359   0.1558  0.0878  no',
        '  weather   60   0.3435   0.2445  0.0017  yes',
        '  wind      60  0.04321  0.08803  0.6711  no',
        '',
        '  output   n    psi      js  chi² p  drifted',
        '  ------  --  -----  ------  ------  -------',
        '  label   60  2.187  0.3852  3.6e-7  yes',
        '',
        'v4 shadow  rollout ro_weather_v4_shadow candidate',
        '  suppressed (< 5 devices)',
        '',
      ].join('\n'),
    )
    expect(edge.requests.map((q) => `${q.path}${q.search}`)).toEqual([
      '/v1/models/seattle-weather/telemetry?granularity=hour',
    ])
  })

  it('shows Horvitz–Thompson estimates beside the received counts when devices sample, and nothing more when they do not', async () => {
    edge.fleetViews.set('seattle-weather', vectors('fleet-view.valid.json')[1].value)
    const out = (await cli('telemetry', 'seattle-weather')).out.split('\n')
    expect(out.slice(3, 6)).toEqual([
      '  devices     6',
      '  inferences  60, 3 errors (5.0%)',
      '  estimated   ≈15 devices, ≈150 inferences, ≈9 errors (sampled, rate ≥ 0.25; counts above as received)',
    ])
    edge.fleetViews.set('seattle-weather', fleetView)
    expect((await cli('telemetry', 'seattle-weather')).out).not.toContain('estimated')
  })

  it('says how many reports devices dropped before sending, per reason, and nothing when none were', async () => {
    expect((await cli('telemetry', 'seattle-weather')).out).not.toContain('dropped on devices')
    edge.fleetViews.set('seattle-weather', {
      ...fleetView,
      deviceDropped: { queue_overflow: 12, too_old: 0, rejected: 3 },
    })
    const out = (await cli('telemetry', 'seattle-weather')).out.split('\n')
    expect(out).toContain('dropped on devices before sending: queue_overflow 12, rejected 3')
  })

  it('says what is unknown (-) and what has no reference, and lists only the top fallback reasons', async () => {
    const total = fleetView.cohorts[0].total
    const quiet = {
      ...total,
      devicesRelativeError: 0.016,
      devices: 2048,
      inferences: 0,
      errors: 0,
      errorRate: null,
      latencyMs: null,
      backends: {},
      fallbacks: { 'webgpu:unavailable': 9, 'webgl:lost': 4, 'wasm:oom': 4, 'webgpu:timeout': 1 },
      features: {
        wind: {
          ...total.features.wind,
          psi: null,
          js: null,
          chi2: null,
          chi2_p: null,
          drifted: false,
          reason: 'no_reference',
        },
      },
      outputs: {},
      shadow: null,
      feedback: null,
    }
    edge.fleetViews.set('seattle-weather', { ...fleetView, cohorts: [{ ...fleetView.cohorts[0], total: quiet }] })
    const out = (await cli('telemetry', 'seattle-weather')).out.split('\n')
    expect(out.slice(3, 11)).toEqual([
      '  devices     ≈2048 (±1.6%)',
      '  inferences  0, 0 errors (-)',
      '  latency     -',
      '  load        p50 205 ms  (1 load, cache hits 0.0%)',
      '  backends    -',
      '  fallbacks   webgpu:unavailable (9 devices), wasm:oom (4 devices), webgl:lost (4 devices), +1 more',
      '  shadow      -',
      '  accuracy    -',
    ])
    expect(out).toContain('  wind     60    -   -       -  n/a (no reference)')
    expect(out.join('\n')).not.toContain('output')
  })

  it('shows data quality per feature under each cohort, and the worst feature of the model', async () => {
    const total = fleetView.cohorts[0].total
    const q = (rows: number, p: Partial<Record<string, number>>, rate: number) => ({
      rows,
      missing: 0,
      nonFinite: 0,
      wrongType: 0,
      outOfRange: 0,
      unknownCategory: 0,
      ...p,
      rate,
    })
    const quality = {
      features: {
        temp_max: q(60, { nonFinite: 3, wrongType: 2, outOfRange: 7 }, 0.2),
        weather: q(60, { missing: 1, unknownCategory: 5 }, 0.1),
        wind: q(60, {}, 0),
      },
      worst: { feature: 'temp_max', rate: 0.2 },
    }
    const other = { ...fleetView.cohorts[0], version: 2, total: { ...total, quality: { ...quality, worst: null } } }
    edge.fleetViews.set('seattle-weather', {
      ...fleetView,
      cohorts: [{ ...fleetView.cohorts[0], total: { ...total, quality } }, other],
    })
    const out = (await cli('telemetry', 'seattle-weather')).out.split('\n')
    expect(out).toContain('  quality     worst temp_max 20.0% of rows with a problem')
    expect(out).toContain('  quality     -')
    const at = out.indexOf('  quality   rows  missing  non-finite  wrong type  out of range  unknown category   rate')
    expect(at).toBeGreaterThan(0)
    expect(out.slice(at + 1, at + 5)).toEqual([
      '  --------  ----  -------  ----------  ----------  ------------  ----------------  -----',
      '  temp_max    60        0           3           2             7                 0  20.0%',
      '  weather     60        1           0           0             0                 5  10.0%',
      '  wind        60        0           0           0             0                 0   0.0%',
    ])
    expect(out.at(-2)).toBe('worst data quality: temp_max 20.0% of rows with a problem (v3 primary)')
    // Without quality counts nothing about quality is printed.
    edge.fleetViews.set('seattle-weather', fleetView)
    expect((await cli('telemetry', 'seattle-weather')).out).not.toContain('quality')
  })

  it('shows the estimated accuracy with its 95% interval next to the measured accuracy, and nothing without one', async () => {
    const total = fleetView.cohorts[0].total
    const estimatedAccuracy = { n: 1095, value: 0.7031, low: 0.6512, high: 0.755 }
    edge.fleetViews.set('seattle-weather', {
      ...fleetView,
      cohorts: [{ ...fleetView.cohorts[0], total: { ...total, estimatedAccuracy } }],
    })
    const out = (await cli('telemetry', 'seattle-weather')).out.split('\n')
    const at = out.findIndex((l) => l.startsWith('  accuracy'))
    expect(out[at + 1]).toBe('  est. accuracy  70.3% ± 5.2% (95% 65.1%–75.5%, 1095 calibrated)')
    edge.fleetViews.set('seattle-weather', {
      ...fleetView,
      cohorts: [{ ...fleetView.cohorts[0], total: { ...total, estimatedAccuracy: null } }],
    })
    expect((await cli('telemetry', 'seattle-weather')).out).not.toContain('est. accuracy')
    edge.fleetViews.set('seattle-weather', fleetView)
  })

  it('says that telemetry exists when every cohort is under k, and how to lower k for local work', async () => {
    const suppressed = fleetView.cohorts.find((c: { total: { suppressed: boolean } }) => c.total.suppressed)
    edge.fleetViews.set('seattle-weather', { ...fleetView, cohorts: [suppressed, suppressed] })
    const r = await cli('telemetry', 'seattle-weather')
    expect(r.code).toBe(0)
    expect(r.out).toContain(
      'telemetry exists for 2 cohorts, each from fewer than 5 devices, so none is shown (k-anonymity). ' +
        'For local work, start the edge with a lower k: `npm start -- --min-devices 1` (TELEMETRY_MIN_DEVICES).',
    )
    edge.fleetViews.set('seattle-weather', { ...fleetView, cohorts: [] })
    expect((await cli('telemetry', 'seattle-weather')).out).toContain('no telemetry in this range')
  })

  it('--json prints the FleetView; --version, --since and --granularity shape the query', async () => {
    const r = await cli(
      'telemetry',
      'seattle-weather',
      '--json',
      '--version',
      'v3',
      '--since',
      '90m',
      '--granularity',
      'minute',
    )
    expect(r.code).toBe(0)
    expect(JSON.parse(r.out)).toEqual(fleetView)
    const q = new URLSearchParams(edge.requests[0].search)
    expect(Number(q.get('to')) - Number(q.get('from'))).toBe(90 * 60_000)
    expect(Math.abs(Number(q.get('to')) - Date.now())).toBeLessThan(60_000)
    expect([q.get('version'), q.get('granularity')]).toEqual(['3', 'minute'])
  })

  it('shows device health under each cohort and per slice, and nothing about it without events', async () => {
    const total = fleetView.cohorts[0].total
    const health = {
      deviceLost: 1,
      oomLoad: 2,
      oomRun: 0,
      workerCrash: 1,
      loadAbandoned: 1,
      crashes: 5,
      sessions: 20,
      crashRate: 0.25,
    }
    edge.fleetViews.set('seattle-weather', {
      ...fleetView,
      cohorts: [{ ...fleetView.cohorts[0], total: { ...total, health } }],
      slices: {
        dimension: 'backend',
        cohorts: [
          {
            version: 3,
            role: 'primary',
            rollout: null,
            slices: {
              webgpu: {
                suppressed: false,
                devices: 6,
                reports: 6,
                inferences: 100,
                errors: 2,
                errorRate: 0.02,
                latencyMs: null,
                feedback: null,
                health,
              },
            },
            gap: null,
          },
        ],
      },
      sliceGap: null,
    })
    const out = (await cli('telemetry', 'seattle-weather', '--slice', 'backend')).out.split('\n')
    expect(out).toContain(
      '  health      crash rate 25.0% (5 crashes in 20 sessions): device lost 1, out of memory at load 2 and at run 0, worker crashes 1, abandoned loads 1',
    )
    expect(out).toContain('  webgpu         6         100    2.0%         -  crash rate 25.0% (5 crashes)')
    edge.fleetViews.set('seattle-weather', fleetView)
    expect((await cli('telemetry', 'seattle-weather')).out).not.toContain('crash')
  })

  it('--slice asks for the slices and prints each cohort by slice, suppressed ones as such, and the largest gap', async () => {
    const slice = (devices: number, inferences: number, errors: number, accuracy: number | null) => ({
      suppressed: false,
      devices,
      reports: devices,
      inferences,
      errors,
      errorRate: errors / inferences,
      latencyMs: { p50: 1, p95: 2, p99: 3 },
      feedback: accuracy === null ? null : { labeled: 10, correct: accuracy * 10, accuracy },
    })
    const gap = {
      dimension: 'platform',
      metric: 'error_rate',
      worst: { slice: 'windows', value: 0.25 },
      best: { slice: 'linux', value: 0.02 },
      gap: 0.23,
    }
    edge.fleetViews.set('seattle-weather', {
      ...fleetView,
      slices: {
        dimension: 'platform',
        cohorts: [
          {
            version: 3,
            role: 'primary',
            rollout: null,
            slices: {
              linux: slice(6, 100, 2, 0.8),
              macos: { suppressed: true, reason: 'fewer_than_min_devices', minDevices: 5 },
              windows: slice(7, 120, 30, null),
            },
            gap,
          },
        ],
      },
      sliceGap: { ...gap, version: 3, role: 'primary', rollout: null },
    })
    const r = await cli('telemetry', 'seattle-weather', '--slice', 'platform')
    expect(r.code).toBe(0)
    expect(new URLSearchParams(edge.requests[0].search).get('slice')).toBe('platform')
    const out = r.out.split('\n')
    const at = out.indexOf('v3 primary by platform')
    expect(out.slice(at, at + 6)).toEqual([
      'v3 primary by platform',
      '  platform  devices  inferences  errors  accuracy',
      '  --------  -------  ----------  ------  --------  ------------------------',
      '  linux           6         100    2.0%     80.0%',
      '  macos           -           -       -         -  suppressed (< 5 devices)',
      '  windows         7         120   25.0%         -',
    ])
    expect(out).toContain('largest gap between platform slices: error rate 25.0% on windows against 2.0% on linux (v3)')
    expect((await cli('telemetry', 'seattle-weather', '--slice', 'zone')).code).not.toBe(0)
  })

  it("prints the edge's refusal as one line", async () => {
    edge.answer(
      'GET',
      /seattle-weather\/telemetry$/,
      new Response(
        JSON.stringify({ error: { code: 'validation_failed', message: 'a minute read spans at most 24 hours' } }),
        { status: 400 },
      ),
    )
    expect(await cli('telemetry', 'seattle-weather', '--since', '2d', '--granularity', 'minute')).toEqual({
      code: 1,
      out: '',
      err: 'edgefleet: validation_failed: a minute read spans at most 24 hours\n',
    })
    expect((await cli('telemetry', 'ghost')).err).toBe('edgefleet: not_found: model "ghost" does not exist\n')
  })

  it.each([
    [['telemetry', 'seattle-weather', '--since', '1w'], 'expected a duration such as 30m, 1h or 2d'],
    [['telemetry', 'seattle-weather', '--since', '0h'], 'expected a duration such as 30m, 1h or 2d'],
    [['telemetry', 'seattle-weather', '--granularity', 'day'], 'Allowed choices are minute, hour'],
    [['telemetry', 'seattle-weather', '--version', 'latest'], 'expected a version number'],
    [['policy', 'set', 'seattle-weather'], "missing required argument 'file'"],
  ])('%j is a usage error (exit 2) that sends nothing', async (args, message) => {
    const r = await cli(...args)
    expect(r.code).toBe(2)
    expect(r.err).toContain(message)
    expect(edge.requests).toEqual([])
  })
})

describe('edgefleet policy', () => {
  it('sets a policy checked locally, prints it with defaults filled and the secret redacted, and reads it back', async () => {
    const set = await cli('policy', 'set', 'seattle-weather', file('policy.json'))
    expect(set).toEqual({
      code: 0,
      err: '',
      out: [
        'seattle-weather retraining policy, revision 1 (2026-04-26T12:00:00Z by admin)',
        '  enabled          yes',
        '  version          v3',
        '  when             any of: anyFeatureDrifted consecutiveWindows=2 minDevices=50 windowMinutes=60 names=temp_max; accuracyBelow value=0.8 minLabeled=100 windowMinutes=1440 consecutiveWindows=1',
        '  cooldown         1 d',
        '  grace            5 min',
        '  webhook          https://trainer.example.com/hooks/edgefleet (secret <redacted>)',
        '  last evaluated   -',
        '  last result      -',
        '  last fired       never',
        '  cooldown until   -',
        '  next evaluation  2026-04-26T13:05:00Z',
        '',
      ].join('\n'),
    })
    expect(edge.calls()).toEqual(['PUT /v1/models/seattle-weather/policy'])
    expect(JSON.parse(new TextDecoder().decode(edge.requests[0].body!)).webhook.secret).toBe(policy.webhook.secret)
    const get = await cli('policy', 'get', 'seattle-weather')
    expect(get.out).toBe(set.out)
    const json = JSON.parse((await cli('policy', 'get', 'seattle-weather', '--json')).out)
    expect(json).toMatchObject({
      model: 'seattle-weather',
      revision: 1,
      webhook: { secret: '<redacted>' },
      cooldownMinutes: 1440,
    })
  })

  it('refuses a bad policy file before any request: one line naming the file and the JSON pointer', async () => {
    const bad = await cli('policy', 'set', 'seattle-weather', file('bad-policy.json'))
    expect(bad).toEqual({
      code: 1,
      out: '',
      err: `edgefleet: validation_failed: ${file('bad-policy.json')}: when/anyFeatureDrifted/windowMinutes: windowMinutes must divide 1440 (5, 10, 15, 30, 60, …, 1440) (at /when/anyFeatureDrifted/windowMinutes)\n`,
    })
    expect((await cli('policy', 'set', 'seattle-weather', file('broken.json'))).err).toMatch(
      new RegExp(`^edgefleet: parse_error: ${file('broken.json')}: invalid JSON: .*\\n$`),
    )
    expect((await cli('policy', 'set', 'seattle-weather', file('nope.json'))).err).toBe(
      `edgefleet: not_found: ${file('nope.json')}: no such file\n`,
    )
    expect(edge.requests).toEqual([])
  })

  it('says when a model has no policy', async () => {
    expect(await cli('policy', 'get', 'seattle-weather')).toEqual({
      code: 1,
      out: '',
      err: 'edgefleet: not_found: model "seattle-weather" has no retraining policy\n',
    })
  })
})
