// The real `edgefleet` command, run as a child process the way users run it, on real data:
// seattle-weather 2012 (reference) vs 2015 (current). Expected metrics come from scipy
// (scripts/make-cli-fixtures.py → test/vectors/cli-seattle.json).
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { Profile } from '../../core/formats/profile.ts'
import { parseCsv, parseJsonArray } from '../../cli/records.ts'
import expected from '../vectors/cli-seattle.json'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(root, 'bin', 'edgefleet.js')
const seattle = join(root, 'node_modules', 'vega-datasets', 'data', 'seattle-weather.csv')

// Each case starts a real node + tsx process; give them room on a loaded machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

let dir = ''
const file = (name: string) => join(dir, name)

interface Run {
  status: number | null
  stdout: string
  stderr: string
}

/** Runs `node bin/edgefleet.js …` (asynchronously, so independent cases overlap). */
function edgefleet(args: string[], cwd = root): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

/** A failure prints exactly one line, naming the file, and no stack trace. */
async function expectOneLineError(run: Promise<Run>, ...mentions: string[]): Promise<void> {
  const r = await run
  expect(r.status).not.toBe(0)
  expect(r.stdout).toBe('')
  const lines = r.stderr.trimEnd().split('\n')
  expect(lines, r.stderr).toHaveLength(1)
  for (const m of mentions) expect(lines[0]).toContain(m)
  expect(r.stderr).not.toMatch(/^\s+at /m)
}

/** p-values agree within max(1e-6·p, 1e-300) (DESIGN). */
function expectP(actual: number, p: number): void {
  expect(Math.abs(actual - p)).toBeLessThanOrEqual(Math.max(1e-6 * p, 1e-300))
}

function expectStat(actual: number, x: number): void {
  expect(Math.abs(actual - x)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(x)))
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-cli-'))
  const [header, ...rows] = readFileSync(seattle, 'utf8').trimEnd().split('\n')
  const year = (y: string) => [header, ...rows.filter((r) => r.startsWith(y))].join('\n') + '\n'
  writeFileSync(file('2012.csv'), year('2012'))
  writeFileSync(file('2015.csv'), year('2015'))
  // 2015 without its wind column.
  const dropWind = (line: string) =>
    line
      .split(',')
      .filter((_, i) => i !== 4)
      .join(',')
  writeFileSync(file('2015-no-wind.csv'), year('2015').trimEnd().split('\n').map(dropWind).join('\n') + '\n')
  // 2015 with every wind value blank.
  const blankWind = (line: string, i: number) =>
    i === 0
      ? line
      : line
          .split(',')
          .map((v, j) => (j === 4 ? '' : v))
          .join(',')
  writeFileSync(file('2015-blank-wind.csv'), year('2015').trimEnd().split('\n').map(blankWind).join('\n') + '\n')
  writeFileSync(file('broken.json'), '[{"temp_max": 1.5},\n {"temp_max": }]\n')
  writeFileSync(file('empty.csv'), '')
  writeFileSync(file('header-only.csv'), `${header}\n`)
  writeFileSync(file('ragged.csv'), `${header}\n${rows[0]}\n${rows[1]}\n2012-01-03,0.8,11.7\n`)
  writeFileSync(
    file('2015.json'),
    JSON.stringify(
      rows
        .filter((r) => r.startsWith('2015'))
        .map((r) => {
          const [date, precipitation, temp_max, temp_min, wind, weather] = r.split(',')
          return {
            date,
            precipitation: Number(precipitation),
            temp_max: Number(temp_max),
            temp_min: Number(temp_min),
            wind: Number(wind),
            weather,
          }
        }),
    ),
  )
})

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
})

interface FeatureJson {
  type: string
  n: number[]
  missing: number[]
  drifted: boolean
  drifted_binned: boolean
  [metric: string]: unknown
}

describe('edgefleet drift --json on seattle-weather 2012 vs 2015', () => {
  let report: { features: Record<string, FeatureJson>; drifted_share: number; rule: string }

  beforeAll(async () => {
    const r = await edgefleet(['drift', file('2012.csv'), file('2015.csv'), '--json'])
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    report = JSON.parse(r.stdout)
  })

  it('skips the date column and reports every other column', () => {
    expect(Object.keys(report.features).sort()).toEqual(['precipitation', 'temp_max', 'temp_min', 'weather', 'wind'])
  })

  it.each(['precipitation', 'temp_max', 'temp_min', 'wind'] as const)(
    '%s: raw and binned metrics match scipy',
    (name) => {
      const got = report.features[name]
      const want = expected.features[name]
      expect(got).toMatchObject({ type: 'numeric', n: want.n, missing: want.missing })
      for (const stat of ['ks', 'wasserstein', 'psi', 'js', 'hellinger', 'binned_ks', 'chi2'] as const)
        expectStat(got[stat] as number, want[stat])
      expectP(got.ks_p as number, want.ks_p)
      expectP(got.chi2_p as number, want.chi2_p)
    },
  )

  it('weather (categorical): JS, PSI and chi-squared on the reference categories match scipy', () => {
    const got = report.features.weather
    const want = expected.features.weather
    expect(got).toMatchObject({ type: 'categorical', n: want.n, missing: want.missing })
    for (const stat of ['js', 'psi', 'hellinger', 'chi2'] as const) expectStat(got[stat] as number, want[stat])
    expectP(got.chi2_p as number, want.chi2_p)
  })

  it('binned verdicts: temp_max drifted, wind and temp_min not; the weather label shifted', () => {
    const binned = Object.fromEntries(Object.entries(report.features).map(([k, f]) => [k, f.drifted_binned]))
    expect(binned).toEqual({ precipitation: false, temp_max: true, temp_min: false, wind: false, weather: true })
  })

  it('auto picks the raw-sample rule for a 366-row reference (KS / chi-squared p < 0.05)', () => {
    expect(report.rule).toBe('raw')
    const raw = Object.fromEntries(Object.entries(report.features).map(([k, f]) => [k, f.drifted]))
    expect(raw).toEqual({ precipitation: false, temp_max: true, temp_min: true, wind: false, weather: true })
    expect(report.drifted_share).toBe(3 / 5)
  })

  it('--rule binned makes the binned verdict the verdict', async () => {
    const r = await edgefleet(['drift', file('2012.csv'), file('2015.json'), '--json', '--rule', 'binned'])
    expect(r.status).toBe(0)
    const binned = JSON.parse(r.stdout)
    expect(binned.rule).toBe('binned')
    expect(binned.drifted_share).toBe(2 / 5)
    // The JSON current file reads the same as its CSV twin.
    expect(binned.features.temp_max.ks).toBe(report.features.temp_max.ks)
  })
})

describe('edgefleet drift (text)', () => {
  it('prints a table of features and the dataset verdict', async () => {
    const r = await edgefleet(['drift', file('2012.csv'), file('2015.csv')])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^feature\s+type\s+n ref\/cur\s+missing/m)
    expect(r.stdout).toMatch(/^temp_max\s+numeric\s+366\/365\s+0\/0\s.*\byes\s*$/m)
    expect(r.stdout).toMatch(/^wind\s+numeric\s.*\bno\s+no\s*$/m)
    expect(r.stdout).toMatch(/^weather\s+categorical\s.*\byes\s+yes\s*$/m)
    expect(r.stdout).toContain('skipped: date (timestamp)')
    expect(r.stdout).toMatch(/^3 of 5 features drifted \(60%\), rule raw/m)
  })
})

describe('edgefleet drift with a feature that has no values in the current data', () => {
  it('reports it as missing with no verdict instead of failing or alarming', async () => {
    const r = await edgefleet(['drift', file('2012.csv'), file('2015-blank-wind.csv'), '--json'])
    expect(r.status).toBe(0)
    const wind = JSON.parse(r.stdout).features.wind
    expect(wind).toMatchObject({
      n: [366, 0],
      missing: [0, 365],
      ks: null,
      js: null,
      drifted: false,
      drifted_binned: false,
      reason: 'insufficient_data',
    })
    const text = (await edgefleet(['drift', file('2012.csv'), file('2015-blank-wind.csv')])).stdout
    expect(text).toMatch(/^wind\s+numeric\s+366\/0\s+0\/365\s.*\bn\/a\s+n\/a\s*$/m)
    expect(text).toContain('note: wind has no values in')
  })
})

describe('edgefleet profile', () => {
  it('writes a valid profile/1', async () => {
    const out = file('profile.json')
    const r = await edgefleet(['profile', file('2012.csv'), '-o', out, '--outputs', 'weather'])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('skipped: date (timestamp)')
    const profile = Profile.parse(JSON.parse(readFileSync(out, 'utf8')))
    expect(profile.rows).toBe(366)
    expect(profile.features.temp_max).toMatchObject({
      type: 'numeric',
      edges: expected.features.temp_max.edges,
      counts: expected.features.temp_max.ref_counts,
    })
    expect(profile.outputs.weather).toMatchObject({
      type: 'categorical',
      categories: expected.features.weather.categories,
    })
    expect(profile.calibration).toBeUndefined()
  })

  it('--label with --model fits a calibration map of the demo classifier on its labelled rows; the label is not profiled', async () => {
    const out = file('calibrated.json')
    const model = join(root, 'demo', 'models', 'weather')
    const r = await edgefleet([
      'profile',
      file('2012.csv'),
      '-o',
      out,
      '--label',
      'weather',
      '--model',
      join(model, 'model.onnx'),
      '--signature',
      join(model, 'signature.json'),
    ])
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    // The committed model is right on 260 of 2012's 366 days (metrics.json: train_accuracy 0.7104).
    expect(r.stdout).toContain('calibration against weather: 366 labelled rows')
    expect(r.stdout).toContain('accuracy 0.710')
    const profile = Profile.parse(JSON.parse(readFileSync(out, 'utf8')))
    expect(Object.keys(profile.features)).not.toContain('weather')
    const cal = profile.calibration!
    expect(cal.label).toBe('weather')
    expect(cal.counts.reduce((a, b) => a + b, 0)).toBe(366)
    expect(cal.correct.reduce((a, b) => a + b, 0)).toBe(260)
  })

  it('--label reads the prediction and score columns of the data; without a prediction column it is refused', async () => {
    const rows = ['weather,predicted,confidence', 'rain,rain,0.9', 'sun,rain,0.6', 'sun,sun,0.8', ',sun,0.7']
    writeFileSync(file('scored.csv'), rows.join('\n') + '\n')
    const out = file('scored.json')
    const r = await edgefleet([
      'profile',
      file('scored.csv'),
      '-o',
      out,
      '--outputs',
      'predicted,confidence',
      '--label',
      'weather',
    ])
    expect(r.status).toBe(0)
    const cal = Profile.parse(JSON.parse(readFileSync(out, 'utf8'))).calibration!
    expect(cal.counts.reduce((a, b) => a + b, 0)).toBe(3)
    expect(cal.correct.reduce((a, b) => a + b, 0)).toBe(2)
    await expectOneLineError(edgefleet(['profile', file('scored.csv'), '--label', 'weather']), '--prediction')
  })
})

describe.concurrent('bad input: one line naming the file, non-zero exit', () => {
  it('a missing file', async () => {
    await expectOneLineError(edgefleet(['drift', file('2012.csv'), file('nope.csv')]), 'nope.csv', 'no such file')
    await expectOneLineError(edgefleet(['profile', file('nope.csv')]), 'nope.csv')
  })

  it('a column absent in the current data', async () => {
    await expectOneLineError(
      edgefleet(['drift', file('2012.csv'), file('2015-no-wind.csv')]),
      '2015-no-wind.csv',
      'wind',
    )
  })

  it('an unparsable JSON file', async () => {
    await expectOneLineError(edgefleet(['drift', file('2012.csv'), file('broken.json')]), 'broken.json', 'invalid JSON')
  })

  it('an empty CSV, and one with a header only', async () => {
    await expectOneLineError(edgefleet(['drift', file('empty.csv'), file('2015.csv')]), 'empty.csv')
    await expectOneLineError(edgefleet(['profile', file('header-only.csv')]), 'header-only.csv', 'no data rows')
  })

  it('a ragged CSV row, named by row and line', async () => {
    await expectOneLineError(edgefleet(['drift', file('ragged.csv'), file('2015.csv')]), 'ragged.csv', 'row 3 (line 4)')
  })

  it('a bad option value is a usage error (exit 2)', async () => {
    const r = await edgefleet(['drift', file('2012.csv'), file('2015.csv'), '--rule', 'sometimes'])
    expect(r.status).toBe(2)
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
  })
})

describe('reading data files', () => {
  it('turns plain decimal CSV fields into numbers, empty into null, and keeps codes as strings', () => {
    const { columns, records } = parseCsv('a,b,c\n0.0, -1.5e3 ,007\n,NaN,.5\n', 'x.csv')
    expect(columns).toEqual(['a', 'b', 'c'])
    expect(records).toEqual([
      { a: 0, b: -1500, c: '007' },
      { a: null, b: 'NaN', c: 0.5 },
    ])
  })

  it('names the file and row of a JSON element that is not an object', () => {
    expect(() => parseJsonArray('[{"a": 1}, [2]]', 'd.json')).toThrow('d.json: row 2: expected an object, got an array')
  })
})

describe('the edgefleet binary', () => {
  it('runs from any working directory by absolute path', async () => {
    const r = await edgefleet(['--help'], tmpdir())
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/Usage: edgefleet/)
    expect(r.stdout).toMatch(/profile \[options\] <data>/)
    expect(r.stdout).toMatch(/drift \[options\] <reference> <current>/)
  })

  it('runs as `npx edgefleet` from the project', () => {
    const r = spawnSync('npx', ['--no-install', 'edgefleet', 'drift', '--help'], { cwd: root, encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/--rule <rule>/)
  })
})
