// `edgefleet rollout` in-process, through the real `run()`, against the fake edge installed as
// `fetch`: flag parsing with its exact messages, the bodies sent, the status report a person reads
// (decisions made by core's `decide` on seeded arm samples), and steering with compare-and-set steps.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError } from 'commander'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { guardOption, secondsDurationOption, stepsOption, targetOption } from '../../cli/rollout-flags.ts'
import type { DeviceSample } from '../helpers/fake-rollouts.ts'
import { FakeEdge, runCli, useFakeEdge } from '../helpers/fake-edge.ts'
import { seededRandom } from '../../scripts/lib/random.ts'

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-rollout-'))
const file = (name: string) => join(dir, name)
const fileConfig = {
  candidate: 7,
  mode: 'canary',
  steps: [
    { percent: 2, minMinutes: 60, minDevices: 100, minInferences: 20000 },
    { percent: 40, minMinutes: 120, minDevices: 400, minInferences: 80000 },
  ],
  guardrails: [{ metric: 'drift_js_max', max: 0.2 }],
  targeting: { webgpu: true },
  evaluationSeconds: 600,
}
writeFileSync(file('rollout.json'), JSON.stringify(fileConfig))
writeFileSync(
  file('bad-rollout.json'),
  JSON.stringify({
    ...fileConfig,
    steps: [
      { percent: 50, minDevices: 10 },
      { percent: 20, minDevices: 10 },
    ],
  }),
)
writeFileSync(file('list.json'), '[1, 2]')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const MIN = 60_000
let edge: FakeEdge

beforeEach(() => {
  edge = new FakeEdge()
  edge.models.set('vad', {
    name: 'vad',
    format: 'onnx',
    task: 'generic',
    signature: null,
    versions: [],
    aliases: { production: 6 },
  })
  return useFakeEdge(edge)
})

const cli = runCli
const posted = (n = 0) =>
  JSON.parse(new TextDecoder().decode(edge.requests.filter((r) => r.method === 'POST')[n].body!))
const step = (percent: number, minimums = { minMinutes: 30, minDevices: 50, minInferences: 5000 }) => ({
  percent,
  ...minimums,
})
/** The parser's refusal message, or 'ok'. */
function refusal(parse: () => unknown): string {
  try {
    parse()
    return 'ok'
  } catch (e) {
    if (e instanceof InvalidArgumentError) return e.message
    throw e
  }
}

describe('rollout flag parsers', () => {
  it.each([
    ['error_rate:max=0.01', { metric: 'error_rate', max: 0.01, minDevices: 10 }],
    ['error_rate:maxDiff=0.005,minDevices=20', { metric: 'error_rate', maxDiff: 0.005, minDevices: 20 }],
    ['fallback_rate:maxDiff=0.01,tau=0.02', { metric: 'fallback_rate', maxDiff: 0.01, minDevices: 10, tau: 0.02 }],
    [' shadow_disagreement : max = 1e-1 ', { metric: 'shadow_disagreement', max: 0.1, minDevices: 10 }],
    ['latency_p95:maxRatio=1.2', { metric: 'latency_p95', maxRatio: 1.2 }],
    ['drift_js_max:max=0.2', { metric: 'drift_js_max', max: 0.2 }],
    ['accuracy:minRatio=0.98,minLabeled=50', { metric: 'accuracy', minRatio: 0.98, minLabeled: 50 }],
    ['data_quality:maxRate=0.02', { metric: 'data_quality', maxRate: 0.02, absolute: false, minRows: 100 }],
    ['estimated_accuracy:minRatio=0.95', { metric: 'estimated_accuracy', minRatio: 0.95, minPredictions: 200 }],
    [
      'data_quality:maxRate=0.1,absolute=true,minRows=500',
      { metric: 'data_quality', maxRate: 0.1, absolute: true, minRows: 500 },
    ],
    [
      'slice_gap:dimension=platform,max=0.05',
      { metric: 'slice_gap', dimension: 'platform', max: 0.05, measure: 'error_rate', minDevices: 5 },
    ],
    [
      'slice_gap:dimension=memory,max=0.1,measure=accuracy,minDevices=20',
      { metric: 'slice_gap', dimension: 'memory', max: 0.1, measure: 'accuracy', minDevices: 20 },
    ],
  ])('--guard %s', (text, guard) => {
    expect(guardOption(text, [{ metric: 'latency_p95', maxRatio: 2 }])).toEqual([
      { metric: 'latency_p95', maxRatio: 2 },
      guard,
    ])
  })

  it.each([
    ['error_rate', 'expected metric:key=value[,key=value], e.g. error_rate:maxDiff=0.005'],
    [
      'error_rat:max=0.1',
      'unknown metric "error_rat" (error_rate, fallback_rate, shadow_disagreement, latency_p95, drift_js_max, accuracy, data_quality, estimated_accuracy, slice_gap, crash_rate)',
    ],
    ['latency_p95:max=1.2', 'unknown key "max" for latency_p95 (maxRatio)'],
    ['error_rate:maxDiff', 'expected key=value, got "maxDiff" (error_rate takes maxDiff, max, minDevices, tau)'],
    ['error_rate:max=0.01,', 'expected key=value, got "" (error_rate takes maxDiff, max, minDevices, tau)'],
    ['error_rate:maxDiff=abc', 'maxDiff: expected a number, got "abc"'],
    ['error_rate:maxDiff=0x10', 'maxDiff: expected a number, got "0x10"'],
    ['error_rate:maxDiff=0.1,maxDiff=0.2', 'maxDiff given twice'],
    ['error_rate:maxDiff=0.01,max=0.02', 'error_rate: exactly one of maxDiff and max'],
    ['error_rate:minDevices=20', 'error_rate: exactly one of maxDiff and max'],
    ['error_rate:maxDiff=1.5', 'error_rate: maxDiff: Too big: expected number to be <1'],
    ['error_rate:max=0.01,minDevices=1', 'error_rate: minDevices: Too small: expected number to be >=2'],
    ['latency_p95:maxRatio=0', 'latency_p95: maxRatio: Too small: expected number to be >0'],
    ['accuracy:minRatio=0.9,minLabeled=2.5', 'accuracy: minLabeled: Invalid input: expected int, received number'],
    ['data_quality:maxRate=0', 'data_quality: maxRate: Too small: expected number to be >0'],
    ['data_quality:maxRate=0.1,absolute=1', 'data_quality: absolute: Invalid input: expected boolean, received number'],
    ['error_rate:max=true', 'error_rate: max: Invalid input: expected number, received boolean'],
    [
      'slice_gap:dimension=country,max=0.05',
      'slice_gap: dimension is one of backend, platform, browser, memory, cohort, variant',
    ],
    ['slice_gap:dimension=platform,max=0.05,measure=latency', 'slice_gap: measure is one of error_rate, accuracy'],
    ['slice_gap:dimension=platform,max=high', 'max: expected a number, got "high"'],
  ])('--guard %s is refused: %s', (text, message) => {
    expect(refusal(() => guardOption(text))).toBe(message)
  })

  it('--target builds one Targeting: booleans, a number, lists that append', () => {
    let t = targetOption('webgpu=true')
    t = targetOption('f16=false', t)
    t = targetOption('minDeviceMemory=4', t)
    t = targetOption('platforms=linux, macos', t)
    t = targetOption('platforms=windows', t)
    t = targetOption('devices=dev_a,dev_b', t)
    expect(t).toEqual({
      webgpu: true,
      f16: false,
      minDeviceMemory: 4,
      platforms: ['linux', 'macos', 'windows'],
      devices: ['dev_a', 'dev_b'],
    })
  })

  it.each([
    [
      'webgpu',
      {},
      'expected key=value with a key of webgpu, f16, minDeviceMemory, platforms, devices, cohorts, e.g. webgpu=true',
    ],
    ['gpu=true', {}, 'unknown target "gpu" (webgpu, f16, minDeviceMemory, platforms, devices, cohorts)'],
    ['webgpu=yes', {}, 'webgpu: expected true or false, got "yes"'],
    ['webgpu=false', { webgpu: true }, 'webgpu given twice'],
    ['minDeviceMemory=lots', {}, 'minDeviceMemory: expected a number, got "lots"'],
    ['minDeviceMemory=0', {}, 'minDeviceMemory: Too small: expected number to be >0'],
    ['platforms=,', {}, 'platforms: expected a comma-separated list, e.g. platforms=a,b'],
  ])('--target %s is refused: %s', (text, previous, message) => {
    expect(refusal(() => targetOption(text, previous))).toBe(message)
  })

  it('--steps and --evaluation', () => {
    expect(stepsOption('1, 5,25,50,100')).toEqual([1, 5, 25, 50, 100])
    expect(stepsOption('0.5,100')).toEqual([0.5, 100])
    expect(refusal(() => stepsOption('1,,5'))).toBe('an empty step is not a percent; expected e.g. 1,5,25,50,100')
    expect(refusal(() => stepsOption('1,five'))).toBe('"five" is not a percent; expected e.g. 1,5,25,50,100')
    expect(['5m', '300s', '300', '1h'].map(secondsDurationOption)).toEqual([300, 300, 300, 3600])
    expect(refusal(() => secondsDurationOption('5 minutes'))).toBe('expected a duration such as 300s, 5m or 1h')
  })
})

describe('edgefleet rollout start', () => {
  it('sends the defaults: a canary over five steps with minimums and two guardrails, baseline left to the edge', async () => {
    const r = await cli('rollout', 'start', 'vad', 'v7')
    expect(r).toMatchObject({ code: 0, err: '' })
    expect(edge.calls()).toEqual(['POST /v1/models/vad/rollouts'])
    expect(posted()).toEqual({
      candidate: 7,
      mode: 'canary',
      steps: [1, 5, 25, 50, 100].map((p) => step(p)),
      guardrails: [
        { metric: 'error_rate', maxDiff: 0.005, minDevices: 10 },
        { metric: 'latency_p95', maxRatio: 1.2 },
      ],
      evaluationSeconds: 300,
      ttlSeconds: 30,
      alpha: 0.05,
      shadowSampleRate: 0.2,
    })
    const lines = r.out.split('\n')
    expect(lines[0]).toMatch(/^vad rollout ro_[0-9a-f]{16}: canary of v7 against v6$/)
    expect(lines).toContain('  status           running at step 1/5, 1% of devices on v7')
    expect(lines).toContain('  steps            [1%] → 5% → 25% → 50% → 100%')
    expect(lines).toContain('  guardrails       error_rate:maxDiff=0.005; latency_p95:maxRatio=1.2 (α 0.05)')
    expect(lines).toContain('  next evaluation  2026-04-26T12:05:00Z (every 5 min)')
    expect(lines).toContain('last decision  none yet')
    expect(lines).toContain('  2026-04-26T12:00:00Z  start   - → running 1/5  started  admin')
  })

  it('sends every flag: steps with their minimums, guards in order, targeting, timing and α', async () => {
    const r = await cli(
      'rollout',
      'start',
      'vad',
      '7',
      '--mode',
      'shadow',
      '--baseline',
      'v5',
      '--steps',
      '1,5,25,50,100',
      '--min-minutes',
      '15',
      '--min-devices',
      '20',
      '--min-inferences',
      '2000',
      '--guard',
      'error_rate:max=0.01',
      '--guard',
      'latency_p95:maxRatio=1.2',
      '--guard',
      'error_rate:maxDiff=0.005,minDevices=20',
      '--target',
      'webgpu=true',
      '--target',
      'platforms=linux,macos',
      '--target',
      'devices=dev_1,dev_2',
      '--target',
      'minDeviceMemory=4',
      '--evaluation',
      '2m',
      '--ttl',
      '45',
      '--alpha',
      '0.01',
      '--shadow-sample-rate',
      '0.5',
      '--json',
    )
    expect(r.code).toBe(0)
    expect(posted()).toEqual({
      candidate: 7,
      baseline: 5,
      mode: 'shadow',
      steps: [1, 5, 25, 50, 100].map((p) => step(p, { minMinutes: 15, minDevices: 20, minInferences: 2000 })),
      guardrails: [
        { metric: 'error_rate', max: 0.01, minDevices: 10 },
        { metric: 'latency_p95', maxRatio: 1.2 },
        { metric: 'error_rate', maxDiff: 0.005, minDevices: 20 },
      ],
      targeting: { webgpu: true, platforms: ['linux', 'macos'], devices: ['dev_1', 'dev_2'], minDeviceMemory: 4 },
      evaluationSeconds: 120,
      ttlSeconds: 45,
      alpha: 0.01,
      shadowSampleRate: 0.5,
    })
    expect(JSON.parse(r.out)).toMatchObject({
      model: 'vad',
      status: 'running',
      step: 0,
      percent: 1,
      config: { baseline: 5, mode: 'shadow' },
    })
  })

  it('an ab rollout defaults to one 50% split', async () => {
    await cli('rollout', 'start', 'vad', '7', '--mode', 'ab')
    expect(posted().steps).toEqual([step(50)])
  })

  it('--file is the config; each flag given replaces its field, --min-* alone every step of the file', async () => {
    const r = await cli(
      'rollout',
      'start',
      'vad',
      '7',
      '--file',
      file('rollout.json'),
      '--min-devices',
      '80',
      '--target',
      'platforms=linux',
      '--alpha',
      '0.1',
    )
    expect(r.code).toBe(0)
    expect(posted()).toEqual({
      ...fileConfig,
      steps: fileConfig.steps.map((s) => ({ ...s, minDevices: 80 })),
      targeting: { webgpu: true, platforms: ['linux'] },
      ttlSeconds: 30,
      alpha: 0.1,
      shadowSampleRate: 0.2,
    })
    await cli('rollout', 'rollback', 'vad')
    await cli(
      'rollout',
      'start',
      'vad',
      '7',
      '--file',
      file('rollout.json'),
      '--steps',
      '10,100',
      '--guard',
      'latency_p95:maxRatio=1.5',
    )
    expect(posted(2)).toMatchObject({
      steps: [step(10), step(100)],
      guardrails: [{ metric: 'latency_p95', maxRatio: 1.5 }],
      targeting: { webgpu: true },
      evaluationSeconds: 600,
    })
  })

  it.each([
    [['--steps', '5,1'], 'error: --steps: step 2: percents must be strictly increasing'],
    [['--steps', '0,50'], 'error: --steps: step 1: Too small: expected number to be >0'],
    [
      ['--steps', '1,abc'],
      `error: option '--steps <percents>' argument '1,abc' is invalid. "abc" is not a percent; expected e.g. 1,5,25,50,100`,
    ],
    [['--mode', 'ab', '--steps', '10,50'], 'error: --steps: an ab rollout has exactly one step (its fixed split)'],
    [
      ['--mode', 'blue'],
      `error: option '--mode <mode>' argument 'blue' is invalid. Allowed choices are canary, ab, shadow.`,
    ],
    [['--min-devices', '0'], 'error: --min-devices: Too small: expected number to be >=1'],
    [['--min-inferences', '2.5'], 'error: --min-inferences: Invalid input: expected int, received number'],
    [['--evaluation', '5s'], 'error: --evaluation: Too small: expected number to be >=10 (seconds)'],
    [['--ttl', '90'], 'error: --ttl: Too big: expected number to be <=60 (seconds)'],
    [['--alpha', '1'], 'error: --alpha: Too big: expected number to be <1'],
    [['--alpha', 'high'], `error: option '--alpha <alpha>' argument 'high' is invalid. expected a number`],
    [
      ['--guard', 'error_rate:maxDiff=2'],
      `error: option '--guard <metric:key=value,…>' argument 'error_rate:maxDiff=2' is invalid. error_rate: maxDiff: Too big: expected number to be <1`,
    ],
    [
      Array.from({ length: 17 }, () => ['--guard', 'drift_js_max:max=0.2']).flat(),
      'error: --guard: Too big: expected array to have <=16 items',
    ],
    [
      ['--target', 'gpu=true'],
      `error: option '--target <key=value>' argument 'gpu=true' is invalid. unknown target "gpu" (webgpu, f16, minDeviceMemory, platforms, devices, cohorts)`,
    ],
    [
      ['--file', file('rollout.json'), '--evaluation', '5'],
      'error: --evaluation: Too small: expected number to be >=10 (seconds)',
    ],
  ])('start %j is a usage error (exit 2) naming the flag, and sends nothing', async (args, message) => {
    const r = await cli('rollout', 'start', 'vad', '7', ...args)
    expect(r).toEqual({ code: 2, out: '', err: `${message}\n` })
    expect(edge.requests).toEqual([])
  })

  it('refuses a candidate that is not the one in the file, and a bad file by its name and pointer (exit 1)', async () => {
    expect(await cli('rollout', 'start', 'vad', '8', '--file', file('rollout.json'))).toEqual({
      code: 2,
      out: '',
      err: `error: <candidate>: v8 differs from the candidate in ${file('rollout.json')} (7)\n`,
    })
    expect(await cli('rollout', 'start', 'vad', '7', '--file', file('bad-rollout.json'))).toEqual({
      code: 1,
      out: '',
      err: `edgefleet: validation_failed: ${file('bad-rollout.json')}: steps/1/percent: percents must be strictly increasing (at /steps/1/percent)\n`,
    })
    expect((await cli('rollout', 'start', 'vad', '7', '--file', file('list.json'))).err).toBe(
      `edgefleet: validation_failed: ${file('list.json')}: expected a JSON object (a RolloutConfig)\n`,
    )
    expect((await cli('rollout', 'start', 'vad', '7', '--file', file('nope.json'))).err).toBe(
      `edgefleet: not_found: ${file('nope.json')}: no such file\n`,
    )
    expect(edge.requests).toEqual([])
  })

  it("surfaces the edge's 409 as one line with exit 1: one active rollout per model, and a model without production", async () => {
    expect((await cli('rollout', 'start', 'vad', '7')).code).toBe(0)
    const id = edge.rollouts.get('vad', 'current')!.id
    expect(await cli('rollout', 'start', 'vad', '8')).toEqual({
      code: 1,
      out: '',
      err: `edgefleet: conflict: model "vad" already has an active rollout (${id}, running): finish it first\n`,
    })
    edge.models.set('kws', { name: 'kws', format: 'onnx', task: 'generic', signature: null, versions: [], aliases: {} })
    expect((await cli('rollout', 'start', 'kws', '2')).err).toBe(
      'edgefleet: conflict: model "kws" has no production version to roll out against: set one or pass "baseline" (at /baseline)\n',
    )
  })
})

/** `n` devices of an arm, each with `inferences` and a seeded number of errors around `errorRate`. */
function devices(
  rand: () => number,
  n: number,
  { errorRate, ...o }: { errorRate: number; latencyMs: number } & Partial<DeviceSample>,
): DeviceSample[] {
  const inferences = o.inferences ?? 100
  return Array.from({ length: n }, () => ({
    ...o,
    inferences,
    errors: Math.round(2 * rand() * errorRate * inferences),
  }))
}

describe('edgefleet rollout status', () => {
  it('reports a rollback by a guardrail: arms, verdicts with p-values, sample ratio, minimums, timeline', async () => {
    const guards = [
      'error_rate:maxDiff=0.005',
      'fallback_rate:max=0.05',
      'latency_p95:maxRatio=1.2',
      'accuracy:minRatio=0.98,minLabeled=200',
    ]
    await cli(
      'rollout',
      'start',
      'vad',
      '7',
      '--steps',
      '50,100',
      '--min-minutes',
      '10',
      '--min-devices',
      '20',
      '--min-inferences',
      '1000',
      ...guards.flatMap((g) => ['--guard', g]),
    )
    const rand = seededRandom(7)
    edge.rollouts.now += 15 * MIN
    edge.rollouts.evaluate('vad', {
      baseline: { devices: devices(rand, 40, { errorRate: 0.01, latencyMs: 4, labeled: 20, correct: 18 }) },
      candidate: {
        devices: devices(rand, 44, { errorRate: 0.01, latencyMs: 12, labeled: 20, correct: 18 }),
        settledDevices: 41,
        driftJsMax: 0.031,
      },
    })
    const r = await cli('rollout', 'status', 'vad')
    expect(r).toMatchObject({ code: 0, err: '' })
    const lines = r.out.split('\n')
    expect(lines).toContain('  status           rolled back: every device back on v6 (guardrail:latency_p95)')
    expect(lines).toContain('  steps            50% → 100%')
    expect(lines).toContain(
      '  guardrails       error_rate:maxDiff=0.005; fallback_rate:max=0.05; latency_p95:maxRatio=1.2; accuracy:minRatio=0.98,minLabeled=200 (α 0.05)',
    )
    expect(lines).toContain('  next evaluation  -')
    expect(lines).toContain('last decision 2026-04-26T12:15:00Z at step 1/2: rollback (guardrail:latency_p95)')
    expect(lines).toContain(
      '  over 2026-04-26T12:00:00Z → 2026-04-26T12:16:00Z, sample ratio from 2026-04-26T12:01:00Z',
    )
    // The per-arm table: one row per statistic, the accuracy row because labels were given.
    const arm = (name: string) =>
      lines
        .find((l) => l.startsWith(`  ${name}  `))!
        .trim()
        .split(/\s{2,}/)
    expect(
      lines
        .find((l) => l.startsWith('  arm '))!
        .trim()
        .split(/\s{2,}/),
    ).toEqual(['arm', 'baseline v6', 'candidate v7'])
    expect(arm('devices')).toEqual(['devices', '40', '44'])
    expect(arm('settled devices')).toEqual(['settled devices', '40', '41'])
    expect(arm('inferences')).toEqual(['inferences', '4000', '4400'])
    expect(arm('fallback rate')).toEqual(['fallback rate', '0.00%', '0.00%'])
    expect(arm('p95 latency')).toEqual([
      'p95 latency',
      expect.stringMatching(/^(3\.9\d|4\.0\d) ms$/),
      expect.stringMatching(/^1[12]\.\d ms$/),
    ])
    expect(arm('drift JS max')).toEqual(['drift JS max', '-', '0.03100'])
    expect(arm('accuracy')).toEqual(['accuracy', '90.00% of 800', '90.00% of 880'])
    expect(arm('error rate')[1]).toMatch(/^\d\.\d\d%$/)
    expect(lines.some((l) => l.includes('shadow agreement'))).toBe(false)
    // Verdicts: the rate tests carry their always-valid p-value at α split over the two rate guardrails.
    const verdicts = lines.slice(lines.findIndex((l) => l.startsWith('  guardrail ')))
    const verdict = (metric: string) =>
      verdicts
        .find((l) => l.startsWith(`  ${metric}  `))!
        .trim()
        .split(/\s{2,}/)
    expect(verdict('error_rate')).toEqual([
      'error_rate',
      'ok',
      expect.stringMatching(/^[+-]\d\.\d\d pp$/),
      '≤ +0.50 pp vs baseline',
      expect.stringMatching(/^[01]\.\d{4} \(α 0\.025\)$/),
    ])
    expect(verdict('fallback_rate')).toEqual([
      'fallback_rate',
      'ok',
      '0.00%',
      '≤ 5.00%',
      expect.stringMatching(/ \(α 0\.025\)$/),
    ])
    expect(verdict('latency_p95')).toEqual([
      'latency_p95',
      'BREACH',
      expect.stringMatching(/^(2\.9\d|3\.0\d)×$/),
      '≤ 1.20× baseline',
      '-',
    ])
    expect(verdict('accuracy')).toEqual(['accuracy', 'ok', '1.00×', '≥ 0.98× baseline', '-'])
    // χ² = 2 · 0.5² / 40.5 on 1 df: p = 2 · (1 − Φ(1/9)) = 0.9115
    expect(lines).toContain(
      '  sample ratio     balanced: baseline 40, candidate 41 settled devices, expected 50.0% candidate, p 0.9115',
    )
    expect(lines).toContain('  step minutes     15.0 of 10')
    expect(lines).toContain('  step devices     baseline 40, candidate 44 of 20 each')
    expect(lines).toContain('  step inferences  baseline 4000, candidate 4400 of 1000 each')
    const timeline = lines.slice(lines.indexOf('timeline') + 3)
    expect(timeline.map((l) => l.trim().split(/\s{2,}/))).toEqual([
      ['2026-04-26T12:00:00Z', 'start', '- → running 1/2', 'started', 'admin'],
      ['2026-04-26T12:15:00Z', 'rollback', 'running 1/2 → rolled back 1/2', 'guardrail:latency_p95', 'rollout'],
      [''],
    ])
  })

  it('reports a rollback by data_quality: the worst feature per arm and in the verdict, the bound against the baseline', async () => {
    await cli(
      'rollout',
      'start',
      'vad',
      '7',
      '--steps',
      '50,100',
      '--min-devices',
      '20',
      '--guard',
      'data_quality:maxRate=0.02',
      '--guard',
      'data_quality:maxRate=0.5,absolute=true,minRows=200',
    )
    const rand = seededRandom(9)
    const q = (rows: number, outOfRange: number) => ({
      rows,
      missing: 0,
      nonFinite: 0,
      wrongType: 0,
      outOfRange,
      unknownCategory: 0,
    })
    edge.rollouts.now += 15 * MIN
    edge.rollouts.evaluate('vad', {
      baseline: {
        devices: devices(rand, 40, { errorRate: 0.01, latencyMs: 4 }),
        quality: { wind: q(4000, 40), temp: q(4000, 0) },
      },
      candidate: {
        devices: devices(rand, 40, { errorRate: 0.01, latencyMs: 4 }),
        quality: { wind: q(4000, 40), temp: q(4000, 360) },
      },
    })
    const lines = (await cli('rollout', 'status', 'vad')).out.split('\n')
    expect(lines).toContain('  status           rolled back: every device back on v6 (guardrail:data_quality)')
    expect(lines).toContain(
      '  guardrails       data_quality:maxRate=0.02; data_quality:maxRate=0.5,absolute=true,minRows=200 (α 0.05)',
    )
    const row = (prefix: string) =>
      lines.filter((l) => l.startsWith(`  ${prefix}  `)).map((l) => l.trim().split(/\s{2,}/))
    expect(row('worst data quality')).toEqual([['worst data quality', '1.00% wind', '9.00% temp']])
    expect(row('data_quality')).toEqual([
      ['data_quality', 'BREACH', '+8.00 pp (temp)', '≤ +2.00 pp vs baseline', '-'],
      ['data_quality', 'ok', '9.00% (temp)', '≤ 50.00%', '-'],
    ])
  })

  it('reports a rollback by slice_gap: the candidate excess on its worst slice, named in the verdict', async () => {
    await cli('rollout', 'start', 'vad', '7', '--steps', '50,100', '--guard', 'slice_gap:dimension=platform,max=0.05')
    const rand = seededRandom(10)
    const slice = (devices: number, inferences: number, errors: number) => ({
      devices,
      inferences,
      errors,
      labeled: 0,
      correct: 0,
    })
    edge.rollouts.now += 15 * MIN
    edge.rollouts.evaluate('vad', {
      baseline: {
        devices: devices(rand, 20, { errorRate: 0.01, latencyMs: 4 }),
        slices: { platform: { linux: slice(10, 1000, 10), windows: slice(10, 1000, 10) } },
      },
      candidate: {
        devices: devices(rand, 20, { errorRate: 0.01, latencyMs: 4 }),
        slices: { platform: { linux: slice(10, 1000, 10), windows: slice(10, 1000, 130) } },
      },
    })
    const lines = (await cli('rollout', 'status', 'vad')).out.split('\n')
    expect(lines).toContain('  status           rolled back: every device back on v6 (guardrail:slice_gap)')
    const row = lines.filter((l) => l.startsWith('  slice_gap  ')).map((l) => l.trim().split(/\s{2,}/))
    expect(row).toEqual([
      ['slice_gap', 'BREACH', '+12.00 pp (platform windows)', '≤ +5.00 pp vs baseline per slice', '-'],
    ])
  })

  it('reports a shadow rollout still gathering devices: agreement per arm, verdicts not judged, the sample ratio not yet due', async () => {
    await cli('rollout', 'start', 'vad', '7', '--mode', 'shadow', '--steps', '20,100')
    const rand = seededRandom(8)
    edge.rollouts.now += 3 * MIN
    edge.rollouts.evaluate('vad', {
      baseline: { devices: devices(rand, 24, { errorRate: 0.01, latencyMs: 4 }) },
      candidate: { devices: devices(rand, 6, { errorRate: 0.01, latencyMs: 5, compared: 50, agreed: 46 }) },
    })
    const lines = (await cli('rollout', 'status', 'vad')).out.split('\n')
    expect(lines[0]).toMatch(/^vad rollout ro_\w+: shadow of v7 against v6$/)
    expect(lines).toContain('  status           running at step 1/2, 20% of devices on v7')
    expect(lines).toContain('  next evaluation  2026-04-26T12:08:00Z (every 5 min)')
    expect(lines).toContain('last decision 2026-04-26T12:03:00Z at step 1/2: hold (insufficient_devices)')
    expect(
      lines
        .find((l) => l.startsWith('  shadow agreement'))!
        .trim()
        .split(/\s{2,}/),
    ).toEqual(['shadow agreement', '-', '92.00% of 300'])
    expect(
      lines
        .find((l) => l.startsWith('  error_rate  '))!
        .trim()
        .split(/\s{2,}/),
    ).toEqual(['error_rate', 'not judged: insufficient devices', '-', '≤ +0.50 pp vs baseline', '-'])
    expect(lines).toContain(
      "  sample ratio     not judged before 2026-04-26T12:05:30Z (devices still taking the step's assignment)",
    )
    expect(lines).toContain('  step minutes     3.0 of 30')
  })

  it('--id reads an older rollout, --json prints the view, and a model without rollouts is one line', async () => {
    await cli('rollout', 'start', 'vad', '7')
    const first = edge.rollouts.get('vad', 'current')!.id
    await cli('rollout', 'rollback', 'vad')
    await cli('rollout', 'start', 'vad', '8')
    expect((await cli('rollout', 'status', 'vad')).out).toContain(': canary of v8 against v6')
    expect((await cli('rollout', 'status', 'vad', '--id', first)).out).toContain(
      '  status           rolled back: every device back on v6 (manual)',
    )
    const json = JSON.parse((await cli('rollout', 'status', 'vad', '--id', first, '--json')).out)
    expect(json).toMatchObject({
      id: first,
      status: 'rolled_back',
      percent: 0,
      transitions: [{ action: 'start' }, { action: 'rollback', reason: 'manual', actor: 'admin' }],
    })
    expect(edge.requests.at(-1)!.path).toBe(`/v1/models/vad/rollouts/${first}`)
    edge.models.set('kws', { name: 'kws', format: 'onnx', task: 'generic', signature: null, versions: [], aliases: {} })
    expect(await cli('rollout', 'status', 'kws')).toEqual({
      code: 1,
      out: '',
      err: 'edgefleet: not_found: model "kws" has no rollout\n',
    })
    expect(await cli('rollout', 'status', 'vad', '--id', 'ro_nope')).toEqual({
      code: 1,
      out: '',
      err: 'edgefleet: not_found: rollout ro_nope of model "vad" does not exist\n',
    })
    expect((await cli('rollout', 'status', 'vad', '--id', 'not an id')).code).toBe(2)
  })
})

describe('edgefleet rollout pause|resume|advance|rollback|promote', () => {
  const actionBodies = () =>
    edge.requests
      .filter((r) => r.method === 'POST' && /\/(pause|resume|advance|rollback|promote)$/.test(r.path))
      .map((r) => JSON.parse(new TextDecoder().decode(r.body!)))

  it('without --id: reads the current rollout and pins the action to its step', async () => {
    await cli('rollout', 'start', 'vad', '7', '--steps', '5,25,100')
    const id = edge.rollouts.get('vad', 'current')!.id
    edge.requests.length = 0
    expect(await cli('rollout', 'advance', 'vad')).toEqual({
      code: 0,
      err: '',
      out: `vad rollout ${id}: running at step 2/3, 25% of devices on v7\n`,
    })
    expect(edge.calls()).toEqual(['GET /v1/models/vad/rollouts/current', `POST /v1/models/vad/rollouts/${id}/advance`])
    expect((await cli('rollout', 'pause', 'vad', '--reason', 'checking latency by hand')).out).toBe(
      `vad rollout ${id}: paused at step 2/3, 25% of devices on v7 (checking latency by hand)\n`,
    )
    expect((await cli('rollout', 'resume', 'vad')).out).toBe(
      `vad rollout ${id}: running at step 2/3, 25% of devices on v7\n`,
    )
    expect((await cli('rollout', 'promote', 'vad')).out).toBe(
      `vad rollout ${id}: promoted: v7 is production (manual)\n`,
    )
    expect(actionBodies()).toEqual([
      { expectStep: 0 },
      { expectStep: 1, reason: 'checking latency by hand' },
      { expectStep: 1 },
      { expectStep: 1 },
    ])
  })

  it('with --id: acts without reading first, pinned only by --expect-step (1-based, as status counts)', async () => {
    await cli('rollout', 'start', 'vad', '7', '--steps', '5,25,100')
    const id = edge.rollouts.get('vad', 'current')!.id
    edge.requests.length = 0
    expect((await cli('rollout', 'advance', 'vad', '--id', id)).code).toBe(0)
    expect((await cli('rollout', 'advance', 'vad', '--id', id, '--expect-step', '2', '--json')).out).toContain(
      '"step": 2',
    )
    expect(edge.calls()).toEqual([
      `POST /v1/models/vad/rollouts/${id}/advance`,
      `POST /v1/models/vad/rollouts/${id}/advance`,
    ])
    expect(actionBodies()).toEqual([{}, { expectStep: 1 }])
  })

  it('a step that moved on is refused by the edge (409) and said in steps people count; nothing is done', async () => {
    await cli('rollout', 'start', 'vad', '7', '--steps', '5,25,100')
    const id = edge.rollouts.get('vad', 'current')!.id
    await cli('rollout', 'advance', 'vad')
    // A retried `advance --expect-step 1` after the first one went through: refused, not a second advance.
    const retry = await cli('rollout', 'advance', 'vad', '--expect-step', '1')
    expect(retry).toEqual({
      code: 1,
      out: '',
      err: `edgefleet: conflict: rollout ${id} is at step 2/3, not step 1/3: nothing was done\n`,
    })
    expect(actionBodies().at(-1)).toEqual({ expectStep: 0 })
    expect(edge.rollouts.get('vad', id)!.step).toBe(1)
  })

  it("surfaces the state machine's refusals as one line with exit 1", async () => {
    await cli('rollout', 'start', 'vad', '7', '--steps', '5,100')
    const id = edge.rollouts.get('vad', 'current')!.id
    expect(await cli('rollout', 'resume', 'vad')).toEqual({
      code: 1,
      out: '',
      err: `edgefleet: conflict: rollout ${id} is not paused\n`,
    })
    await cli('rollout', 'advance', 'vad')
    expect((await cli('rollout', 'advance', 'vad')).err).toBe(
      `edgefleet: conflict: rollout ${id} is at its last step: promote it instead\n`,
    )
    expect((await cli('rollout', 'rollback', 'vad', '--reason', 'kill switch')).out).toBe(
      `vad rollout ${id}: rolled back: every device back on v6 (kill switch)\n`,
    )
    expect((await cli('rollout', 'promote', 'vad')).err).toBe(
      `edgefleet: conflict: rollout ${id} has ended (rolled_back)\n`,
    )
    expect((await cli('rollout', 'pause', 'kws')).err).toBe('edgefleet: not_found: model "kws" has no rollout\n')
  })

  it.each([
    [['advance', 'vad', '--expect-step', '0'], 'expected an integer from 1 to 20'],
    [['pause', 'vad', '--reason', ''], 'expected a note of 1 to 500 characters'],
    [['rollback', 'vad', '--id', 'ro/../x'], 'expected a rollout id such as ro_3f9a2c1e5b7d9f11'],
    [['promote'], "missing required argument 'model'"],
  ])('%j is a usage error (exit 2) that sends nothing', async (args, message) => {
    const r = await cli('rollout', ...args)
    expect(r.code).toBe(2)
    expect(r.err).toContain(message)
    expect(edge.requests).toEqual([])
  })
})
