// `edgefleet slo` in-process, through the real `run()`, against the fake edge installed as `fetch`:
// objectives from flags or a file checked before any request, the body sent, and the status table.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import type { SloStatus } from '../../core/formats/slo.ts'
import { FakeEdge, runCli as cli, useFakeEdge } from '../helpers/fake-edge.ts'

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-slo-'))
const file = (name: string) => join(dir, name)
const slo = {
  objectives: [
    { name: 'fast', kind: 'latency', percentile: 99, thresholdMs: 50 },
    { name: 'answers', kind: 'error_rate', target: 0.999 },
  ],
  period: '7d',
  webhook: { url: 'https://oncall.example.com/hooks/edgefleet', secret: 'a-secret-of-32-characters-or-so!' },
}
writeFileSync(file('slo.json'), JSON.stringify(slo))
writeFileSync(file('bad-slo.json'), JSON.stringify({ objectives: [{ name: 'e', kind: 'error_rate', target: 1 }] }))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let edge: FakeEdge
const T = Date.UTC(2026, 3, 26, 12)

beforeEach(() => {
  edge = new FakeEdge()
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

const sent = (i = 0) => JSON.parse(new TextDecoder().decode(edge.requests[i].body!))

describe('edgefleet slo set|get', () => {
  it('sets SLOs from a file, prints them with the secret redacted, and reads them back', async () => {
    const set = await cli('slo', 'set', 'seattle-weather', '--file', file('slo.json'))
    expect(set).toEqual({
      code: 0,
      err: '',
      out: [
        'seattle-weather SLOs, revision 1 (2026-04-26T12:00:00Z by admin)',
        '  enabled          yes',
        '  period           7d',
        '  webhook          https://oncall.example.com/hooks/edgefleet (secret <redacted>)',
        '  last evaluated   2026-04-26T12:00:00Z',
        '  next evaluation  2026-04-26T12:01:00Z',
        '  fast             p99 latency ≤ 50 ms',
        '  answers          error rate ≤ 0.10%',
        '',
      ].join('\n'),
    })
    expect(edge.calls()).toEqual(['PUT /v1/models/seattle-weather/slo'])
    expect(sent()).toEqual({ ...slo, enabled: true })
    expect((await cli('slo', 'get', 'seattle-weather')).out).toBe(set.out)
    expect(JSON.parse((await cli('slo', 'get', 'seattle-weather', '--json')).out)).toMatchObject({
      revision: 1,
      webhook: { secret: '<redacted>' },
    })
  })

  it('builds objectives from flags, named by kind', async () => {
    const r = await cli(
      'slo',
      'set',
      'seattle-weather',
      '--latency',
      'p95:20',
      '--load-time',
      'p99:3000',
      '--error-rate',
      '0.995',
      '--fallback-rate',
      '0.9',
      '--period',
      '30d',
    )
    expect(r.code).toBe(0)
    expect(sent()).toEqual({
      objectives: [
        { name: 'latency-p95', kind: 'latency', percentile: 95, thresholdMs: 20 },
        { name: 'load-time-p99', kind: 'load_time', percentile: 99, thresholdMs: 3000 },
        { name: 'error-rate', kind: 'error_rate', target: 0.995 },
        { name: 'fallback-rate', kind: 'fallback_rate', target: 0.9 },
      ],
      period: '30d',
      enabled: true,
    })
  })

  it.each([
    [
      ['--latency', '99:50'],
      'edgefleet: validation_failed: --latency: write the percentile and the threshold in ms, like p99:50\n',
    ],
    [
      ['--latency', 'p90:50'],
      'edgefleet: validation_failed: flags: objectives/0/percentile: percentile must be 95 or 99 (at /objectives/0/percentile)\n',
    ],
    [
      ['--error-rate', 'high'],
      'edgefleet: validation_failed: flags: objectives/0/target: Invalid input: expected number, received NaN (at /objectives/0/target)\n',
    ],
    [
      ['--error-rate', '0.99', '--period', '91d'],
      'edgefleet: validation_failed: flags: period: at most 90 days (at /period)\n',
    ],
    [
      [],
      'edgefleet: bad_request: no objectives: give --file slo.json, or --latency, --load-time, --error-rate, --fallback-rate\n',
    ],
    [
      ['--file', 'x.json', '--error-rate', '0.99'],
      'edgefleet: bad_request: give the objectives in --file or as flags, not both\n',
    ],
  ])('refuses %j before any request', async (flags, err) => {
    expect(await cli('slo', 'set', 'seattle-weather', ...flags)).toEqual({ code: 1, out: '', err })
    expect(edge.requests).toEqual([])
  })

  it('refuses a bad file naming the file and the pointer', async () => {
    expect((await cli('slo', 'set', 'seattle-weather', '--file', file('bad-slo.json'))).err).toBe(
      `edgefleet: validation_failed: ${file('bad-slo.json')}: objectives/0/target: Too big: expected number to be <=0.99999 (at /objectives/0/target)\n`,
    )
    expect(edge.requests).toEqual([])
  })

  it('says when a model has no SLOs', async () => {
    expect((await cli('slo', 'get', 'seattle-weather')).err).toBe(
      'edgefleet: not_found: model "seattle-weather" has no SLOs\n',
    )
  })
})

describe('edgefleet slo status', () => {
  const window = (name: string, start: number, burnRate: number | null) => ({
    window: name,
    start,
    end: T,
    suppressed: burnRate === null,
    bad: 0,
    total: 0,
    devices: 0,
    burnRate,
  })
  const status: SloStatus = {
    model: 'seattle-weather',
    version: 3,
    evaluatedAt: T + 60_000,
    period: '28d',
    objectives: [
      {
        name: 'answers',
        kind: 'error_rate',
        target: 0.999,
        state: 'breached-fast',
        since: T,
        windows: [window('5m', T - 300_000, 50), window('30m', T, 20.5), window('1h', T, 16), window('6h', T, 3.25)],
        budget: { from: T - 28 * 86_400_000, to: T, bad: 300, total: 60_000, remaining: -4 },
      },
      {
        name: 'fast',
        kind: 'latency',
        target: 0.99,
        state: 'ok',
        since: null,
        windows: [window('5m', T, null), window('30m', T, 0), window('1h', T, 0.1), window('6h', T, 0.125)],
        budget: { from: T - 28 * 86_400_000, to: T, bad: 0, total: 0, remaining: null },
      },
    ],
  }

  it('prints a table of states, burn rates per window and budget left; --json prints the status', async () => {
    edge.sloStatuses.set('seattle-weather', status)
    const r = await cli('slo', 'status', 'seattle-weather')
    expect(r).toEqual({
      code: 0,
      err: '',
      out: [
        'seattle-weather v3  evaluated 2026-04-26T12:01:00Z, budget over 28d',
        '',
        'objective  state          burn 5m  burn 30m  burn 1h  burn 6h  budget left  since',
        '---------  -------------  -------  --------  -------  -------  -----------  --------------------',
        'answers    breached-fast    50.00     20.50    16.00     3.25      -400.0%  2026-04-26T12:00:00Z',
        'fast       ok                   -      0.00     0.10     0.13            -  -',
        '',
      ].join('\n'),
    })
    expect(edge.calls()).toEqual(['GET /v1/models/seattle-weather/slo/status'])
    expect(JSON.parse((await cli('slo', 'status', 'seattle-weather', '--json')).out)).toEqual(status)
    expect((await cli('slo', 'evaluate', 'seattle-weather')).out).toBe(r.out)
    expect(edge.calls().at(-1)).toBe('POST /v1/models/seattle-weather/slo/evaluate')
    await cli('slo', 'evaluate', 'seattle-weather', '--close-open-window')
    expect(JSON.parse(new TextDecoder().decode(edge.requests.at(-1)!.body!))).toEqual({ closeOpenWindow: true })
  })
})
