// The retrainer against a real `wrangler dev`, through the real CLI as a child process: a first run
// publishes v1 from seattle-weather 2012; with v1 in production a run on 2013-2015 beats it on the
// same holdout, publishes v2 with full lineage and its run, and starts a rollout; the same trigger
// event again publishes nothing; shuffled labels are rejected by the default baseline gate with
// nothing published and retrain.rejected naming the gate; `edgefleet validate` gates a model file.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seededRandom, shuffled } from '../../scripts/lib/random.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(root, 'bin', 'edgefleet.js')
const TRIGGER = 'evt_00000000000000000e2e'
const ROLLOUT = JSON.stringify({
  mode: 'canary',
  steps: [
    { percent: 10, minMinutes: 0, minDevices: 1, minInferences: 1 },
    { percent: 100, minMinutes: 0, minDevices: 1, minInferences: 1 },
  ],
  guardrails: [],
})

let dev: WranglerDev
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-retrain-'))

interface Run {
  status: number | null
  stdout: string
  stderr: string
}

function edgefleet(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, EDGEFLEET_URL: dev.url, EDGEFLEET_TOKEN: E2E_ADMIN_TOKEN, NO_COLOR: '1' }
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

const ok = (r: Run) => {
  expect(r.status, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0)
  return r
}

async function get(path: string): Promise<any> {
  const res = await fetch(new URL(path, dev.url), { headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` } })
  expect(res.status, path).toBe(200)
  return res.json()
}

/** seattle-weather rows of some years, as CSV, written to `name`. */
function yearsCsv(name: string, years: number[], relabel?: (labels: string[]) => string[]): string {
  const [header, ...lines] = readFileSync(join(root, 'node_modules/vega-datasets/data/seattle-weather.csv'), 'utf8')
    .trim()
    .split('\n')
  const rows = lines.filter((l) => years.some((y) => l.startsWith(`${y}-`))).map((l) => l.split(','))
  const col = header.split(',').indexOf('weather')
  const labels = relabel ? relabel(rows.map((r) => r[col])) : rows.map((r) => r[col])
  const file = join(dir, name)
  writeFileSync(
    file,
    [header, ...rows.map((r, i) => r.map((v, j) => (j === col ? labels[i] : v)).join(','))].join('\n'),
  )
  return file
}

beforeAll(async () => {
  dev = await startWranglerDev()
})

afterAll(async () => {
  await dev?.stop({ removeState: true })
  rmSync(dir, { recursive: true, force: true })
})

describe('edgefleet retrain on a real edge', () => {
  it('publishes v1 from 2012, then v2 from 2013-2015 against v1 in production, with its run, lineage and rollout', async () => {
    const first = JSON.parse(
      ok(
        await edgefleet([
          'retrain',
          'weather',
          '--data',
          yearsCsv('2012.csv', [2012]),
          '--label',
          'weather',
          '--ignore',
          'date',
          '--publish',
          '--json',
        ]),
      ).stdout,
    )
    expect(first).toMatchObject({ status: 'completed', version: 1, trigger: 'manual', champion: { kind: 'majority' } })
    ok(await edgefleet(['alias', 'weather', 'production', '1']))

    const data = yearsCsv('2013-2015.csv', [2013, 2014, 2015])
    const args = ['retrain', 'weather', '--data', data, '--label', 'weather', '--gate', 'accuracy:minDelta=0.02']
    const r = ok(
      await edgefleet([
        ...args,
        '--gate',
        'latency:maxMs=50',
        '--publish',
        '--rollout',
        ROLLOUT,
        '--trigger',
        TRIGGER,
        '--json',
      ]),
    )
    const run = JSON.parse(r.stdout)
    expect(run).toMatchObject({
      status: 'completed',
      trigger: TRIGGER,
      version: 2,
      champion: { kind: 'version', version: 1 },
      params: { family: 'lda', seed: 1, holdout: 0.2 },
      data: { name: '2013-2015.csv', rows: 1095, holdoutRows: 218, label: 'weather' },
    })
    // v2 takes the inputs v1 takes: the features come from the production signature.
    expect(run.data.features).toEqual(['precipitation', 'temp_max', 'temp_min', 'wind'])
    expect(run.metrics.accuracy).toBeGreaterThan(run.champion.metrics.accuracy + 0.02)
    expect(run.gates.map((g: any) => [g.gate, g.passed])).toEqual([
      ['baseline:minDelta', true],
      ['accuracy:minDelta', true],
      ['latency:maxMs', true],
    ])

    const v2 = await get('/v1/models/weather/versions/2')
    expect(v2.lineage).toMatchObject({ parent: 1, triggerEvent: TRIGGER, runId: run.id })
    expect(v2.lineage.dataHash).toBe(`sha256:${run.data.sha256}`)
    expect(v2.profile.features.temp_max).toBeTruthy()
    expect(v2.profile.outputs.weather).toBeTruthy()
    expect(v2.metrics.holdout_accuracy).toBeCloseTo(run.metrics.accuracy, 12)
    // The calibration map of its top score is fitted on the 218 held-out days, whose accuracy it keeps.
    const calibration = v2.profile.calibration
    expect(calibration).toMatchObject({ method: 'histogram-pav', label: 'weather' })
    const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0)
    expect(sum(calibration.counts)).toBe(218)
    expect(sum(calibration.correct) / 218).toBeCloseTo(run.metrics.accuracy, 12)
    expect(await get(`/v1/models/weather/runs/${run.id}`)).toMatchObject({
      id: run.id,
      version: 2,
      rollout: run.rollout,
    })
    const rollout = await get('/v1/models/weather/rollouts/current')
    expect(rollout).toMatchObject({ id: run.rollout, config: { candidate: 2, baseline: 1 } })
    const events = (await get('/v1/events?model=weather&type=retrain.completed')).events
    expect(events.at(-1).details).toMatchObject({ runId: run.id, trigger: TRIGGER, version: 2 })

    // The same event again: nothing trained, nothing published.
    const again = ok(await edgefleet([...args, '--publish', '--trigger', TRIGGER]))
    expect(again.stdout).toContain(`already handled by run ${run.id} (v2)`)
    expect((await get('/v1/models/weather')).latestVersion).toBe(2)
  })

  it('rejects shuffled labels at the baseline gate: exit 1, one line naming it, nothing published, retrain.rejected', async () => {
    const data = yearsCsv('shuffled.csv', [2013, 2014, 2015], (labels) => shuffled(labels, seededRandom(5)))
    const r = await edgefleet(['retrain', 'weather', '--data', data, '--label', 'weather', '--publish'])
    expect(r.status).toBe(1)
    const line = r.stderr.trim().split('\n').at(-1)!
    expect(line).toMatch(
      /^edgefleet: validation_failed: run run_[0-9a-f]{20} rejected: gate baseline:minDelta failed: accuracy 0\.\d{3} vs majority class 0\.\d{3}: [-+]0\.\d{3} < \+0\.050/,
    )
    expect((await get('/v1/models/weather')).latestVersion).toBe(2)
    const [event] = (await get('/v1/events?model=weather&type=retrain.rejected')).events
    expect(event.details.gates[0]).toMatch(/^accuracy .* vs majority class/)
    const rejected = (await get('/v1/models/weather/runs?status=rejected')).runs
    expect(rejected).toHaveLength(1)
    expect(rejected[0]).toMatchObject({ version: null, id: event.details.runId })
  })

  it('validate gates a model file against the production version and exits 0 or 1 without publishing', async () => {
    const data = yearsCsv('2015.csv', [2015])
    const model = join(root, 'demo/models/weather/model.onnx')
    const pass = ok(
      await edgefleet([
        'validate',
        'weather',
        model,
        '--data',
        data,
        '--label',
        'weather',
        '--gate',
        'accuracy:min=0.5',
        '--json',
      ]),
    )
    expect(JSON.parse(pass.stdout)).toMatchObject({ passed: true, rows: 365, champion: { version: 1 } })
    const fail = await edgefleet([
      'validate',
      'weather',
      model,
      '--data',
      data,
      '--label',
      'weather',
      '--gate',
      'accuracy:min=0.99',
    ])
    expect(fail.status).toBe(1)
    expect(fail.stdout).toMatch(/accuracy:min\s+0\.\d{3}\s+0\.990\s+FAIL/)
    expect(fail.stderr).toMatch(/gate accuracy:min failed: holdout accuracy 0\.\d{3} < 0\.990/)
    expect((await get('/v1/models/weather')).latestVersion).toBe(2)
  })

  it('--family mlp --json: stdout holds only the run, stderr JSON lines with the epochs and the loss', async () => {
    const data = yearsCsv('2014.csv', [2014])
    const r = ok(
      await edgefleet(['retrain', 'weather', '--data', data, '--label', 'weather', '--family', 'mlp', '--json']),
    )
    const run = JSON.parse(r.stdout)
    expect(run).toMatchObject({ params: { family: 'mlp' }, version: null })
    const lines = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    const epochs = lines.filter((l) => l.progress === 'epoch')
    expect(epochs.map((l) => l.epoch)).toEqual(Array.from({ length: 30 }, (_, i) => (i + 1) * 10))
    expect(epochs.every((l) => l.epochs === 300 && Number.isFinite(l.loss))).toBe(true)
    expect(epochs.at(-1).loss).toBeLessThan(epochs[0].loss)
    expect(lines.filter((l) => l.progress === 'step').map((l) => l.message)).toContainEqual(
      expect.stringMatching(/^training mlp on \d+ rows/),
    )
  })
})
