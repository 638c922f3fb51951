// The whole loop, unattended, on a real `wrangler dev`: v1 (trained on 2012 weather) in production;
// the simulator's fleet feeds 2015 weather and drifts; the retraining policy fires
// `retrain.requested`; an `edgefleet retrain --watch` child process (polling the events) retrains on
// 2013-2015, passes its gates, publishes v2 with lineage and starts the guarded rollout its config
// names; the simulated devices run v2 on 2015 weather and report healthy telemetry; the rollout
// promotes v2 to production. The run record and the events show every step in order. Then the
// retrainer, restarted on data with shuffled labels, answers the next trigger with a rejected run
// that publishes nothing and says why.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FleetView } from '../../core/formats/fleet.ts'
import { seededRandom, shuffled } from '../../scripts/lib/random.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'
import { simulate } from '../../sim/simulate.ts'
import { cli, createAppKey, publishWeather } from '../helpers/edge-seed.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(root, 'bin', 'edgefleet.js')
const DEVICES = 4
const MIN = 60_000

/** The rollout the retrainer starts: every device on the candidate, held to absolute guardrails. */
const ROLLOUT = {
  mode: 'canary',
  steps: [{ percent: 100, minMinutes: 0, minDevices: 2, minInferences: 200 }],
  guardrails: [
    { metric: 'error_rate', max: 0.05, minDevices: 2 },
    { metric: 'drift_js_max', max: 0.5 },
  ],
  evaluationSeconds: 10,
  ttlSeconds: 5,
}

let dev: WranglerDev
let appKey: string
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-loop-'))
const log: string[] = []

/** A running `edgefleet retrain --watch`, its stderr collected; `stop` ends it (SIGTERM, then SIGKILL). */
interface Watcher {
  child: ChildProcess
  stderr: () => string
  stop: () => Promise<void>
}
const watchers: Watcher[] = []

function startWatcher(config: string): Watcher {
  const child = spawn(process.execPath, [bin, 'retrain', '--watch', '--config', config], {
    cwd: root,
    env: { ...process.env, EDGEFLEET_URL: dev.url, EDGEFLEET_TOKEN: E2E_ADMIN_TOKEN, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  child.stdout!.on('data', (d) => (err += d))
  child.stderr!.on('data', (d) => (err += d))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const watcher: Watcher = {
    child,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
  watchers.push(watcher)
  return watcher
}

/**
 * seattle-weather rows of some years as CSV in `name`, read by the demo retrainer's own data source
 * (scripts/weather-years.mjs); `relabel` rewrites the label column.
 */
function yearsCsv(name: string, years: number[], relabel?: (labels: string[]) => string[]): string {
  const csv = execFileSync(process.execPath, [join(root, 'scripts', 'weather-years.mjs'), ...years.map(String)], {
    encoding: 'utf8',
  })
  const [header, ...lines] = csv.trim().split('\n')
  const rows = lines.map((l) => l.split(','))
  const col = header.split(',').indexOf('weather')
  const labels = relabel ? relabel(rows.map((r) => r[col])) : rows.map((r) => r[col])
  const file = join(dir, name)
  writeFileSync(
    file,
    [header, ...rows.map((r, i) => r.map((v, j) => (j === col ? labels[i] : v)).join(','))].join('\n') + '\n',
  )
  return file
}

/** A retrainer.json for `weather` on the data file `data`, polling every second from the shared cursor. */
function retrainerConfig(name: string, data: string): string {
  const file = join(dir, name)
  const config = {
    cursorFile: join(dir, 'cursor'),
    pollSeconds: 1,
    models: {
      weather: {
        data: { path: data },
        label: 'weather',
        family: 'lda',
        gates: ['accuracy:minDelta=0.02', 'latency:maxMs=50'],
        rollout: ROLLOUT,
      },
    },
  }
  writeFileSync(file, JSON.stringify(config, null, 2))
  return file
}

async function get(path: string): Promise<any> {
  const res = await fetch(new URL(path, dev.url), { headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` } })
  expect(res.status, path).toBe(200)
  return res.json()
}

/** Polls `probe` every second until it returns a value; fails with the watcher's output after `ms`. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms: number, w?: Watcher): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`${what}: not seen in ${ms / 1000} s\n${w?.stderr() ?? ''}`)
    await new Promise((r) => setTimeout(r, 1000))
  }
}

/**
 * The visible primary cohort of `version` in today's fleet view that ran the most inferences. A
 * version can have several (one per rollout arm it ran in, and one outside any rollout): v2 runs as
 * the rollout's candidate, and a tick that starts just after the promotion adds a few dozen
 * inferences outside it, too few for a drift figure to mean much.
 */
async function cohortOf(version: number) {
  const view = FleetView.parse(await get(`/v1/models/weather/telemetry?version=${version}`))
  const totals = view.cohorts
    .filter((c) => c.version === version && c.role === 'primary')
    .flatMap((c) => (c.total.suppressed ? [] : [c.total]))
    .sort((a, b) => b.inferences - a.inferences)
  if (totals.length === 0) throw new Error(`no visible primary cohort of v${version}`)
  return totals[0]
}

beforeAll(async () => {
  dev = await startWranglerDev({ vars: { TELEMETRY_MIN_DEVICES: '2' } })
  await publishWeather(dev)
  appKey = await createAppKey(dev)
}, 180_000)

afterAll(async () => {
  await Promise.all(watchers.map((w) => w.stop()))
  await dev?.stop({ removeState: true })
  rmSync(dir, { recursive: true, force: true })
})

describe('drift → retrain → validate → rollout → promote, unattended', () => {
  let trigger: string
  let runId: string

  it('the fleet drifts, the policy fires, the watching retrainer publishes v2 and the fleet promotes it', async () => {
    const watcher = startWatcher(retrainerConfig('retrainer.json', yearsCsv('2013-2015.csv', [2013, 2014, 2015])))
    // The drift scenario's policy judges 5-minute UTC windows: the fleet's data must land in one of
    // them, so a run that would straddle a boundary starts after it instead.
    const left = 5 * MIN - (Date.now() % (5 * MIN))
    if (left < 1.5 * MIN) await new Promise((r) => setTimeout(r, left + 1000))

    const drift = await simulate({
      url: dev.url,
      token: E2E_ADMIN_TOKEN,
      appKey,
      devices: DEVICES,
      minutes: 0.5,
      scenario: 'drift',
      seed: 1,
      log: (l) => log.push(l),
    })
    expect(drift.predictions).toBe(365)
    const v1 = await cohortOf(1)
    expect(v1.features.temp_max).toMatchObject({ drifted: true })

    // The window still open is judged now instead of at its close (a local edge only).
    const policy = JSON.parse(await cli(dev, ['policy', 'evaluate', 'weather', '--close-open-window', '--json']))
    expect(policy.state.lastResult, JSON.stringify(policy)).toMatchObject({ met: true })
    trigger = policy.state.lastEventId
    expect(trigger).toMatch(/^evt_/)
    const [requested] = (await get(`/v1/events?model=weather&type=retrain.requested`)).events
    expect(requested).toMatchObject({ id: trigger, actor: 'policy' })
    expect(requested.details.reason).toContain('temp_max drifted')

    // The retrainer hears it by polling, trains, judges, publishes and starts the rollout.
    const run = await until(
      'a completed run of the trigger',
      async () =>
        (await get(`/v1/models/weather/runs?trigger=${trigger}`)).runs.find((r: any) => r.status !== 'failed'),
      120_000,
      watcher,
    )
    runId = run.id
    const detail = await get(`/v1/models/weather/runs/${run.id}`)
    expect(detail, watcher.stderr()).toMatchObject({
      id: run.id,
      status: 'completed',
      trigger,
      version: 2,
      rollout: expect.stringMatching(/^ro_/),
      params: { family: 'lda', seed: 1, holdout: 0.2 },
      data: { name: '2013-2015.csv', rows: 1095, label: 'weather' },
      champion: { kind: 'version', version: 1 },
    })
    expect(detail.gates.map((g: any) => [g.gate, g.passed])).toEqual([
      ['baseline:minDelta', true],
      ['accuracy:minDelta', true],
      ['latency:maxMs', true],
    ])
    expect(detail.metrics.accuracy).toBeGreaterThan(detail.champion.metrics.accuracy + 0.02)
    const v2 = await get('/v1/models/weather/versions/2')
    expect(v2.lineage).toMatchObject({ parent: 1, triggerEvent: trigger, runId: run.id })
    expect(v2.lineage.dataHash).toBe(`sha256:${detail.data.sha256}`)
    expect(v2.metrics.holdout_accuracy).toBeCloseTo(detail.metrics.accuracy, 12)
    expect(await get('/v1/models/weather/rollouts/current')).toMatchObject({
      id: detail.rollout,
      status: 'running',
      config: { candidate: 2, baseline: 1, mode: 'canary' },
    })
    const said = `${trigger}: run ${run.id} completed, published v2`
    await until(
      'the completion on stderr',
      async () => (watcher.stderr().includes(said) ? true : undefined),
      30_000,
      watcher,
    )

    // The fleet runs v2 on 2015 weather until the rollout ends.
    const follow = await simulate({
      url: dev.url,
      token: E2E_ADMIN_TOKEN,
      appKey,
      devices: DEVICES,
      minutes: 2,
      scenario: 'follow',
      seed: 3,
      daysPerTick: 10,
      log: (l) => log.push(l),
    })
    expect(follow.rollout, log.join('\n')).toMatchObject({ id: detail.rollout, status: 'promoted' })
    expect(follow.versions[2], log.join('\n')).toBeGreaterThan(0)
    expect(follow.errors).toBe(0)
    expect((await get('/v1/models/weather')).aliases).toMatchObject({ production: 2 })
    const rollout = await get(`/v1/models/weather/rollouts/${detail.rollout}`)
    const guardrails = rollout.lastDecision?.evidence?.guardrails ?? []
    expect(guardrails.map((g: any) => [g.metric, g.status])).toEqual([
      ['error_rate', 'ok'],
      ['drift_js_max', 'ok'],
    ])

    // On the same 2015 weather, the version trained on recent years drifts less than the one it replaced.
    const v2Total = await cohortOf(2)
    expect(v2Total.inferences).toBeGreaterThanOrEqual(ROLLOUT.steps[0].minInferences)
    expect(v2Total.features.temp_max.js).toBeLessThan(v1.features.temp_max.js!)

    // The whole chain, in order, in the audit trail.
    const chain = (await get('/v1/events?model=weather&limit=200')).events
      .filter((e: any) => e.at >= requested.at)
      .map((e: any) => e.type)
      .filter((t: string) => /^(retrain|version|rollout|alias)\./.test(t))
    expect(chain).toEqual([
      'retrain.requested',
      'version.published',
      'rollout.started',
      'retrain.completed',
      'rollout.promoted',
      'alias.moved',
    ])
  }, 360_000)

  it('a retrainer on shuffled labels answers the next trigger with a rejected run: nothing published, the gate named', async () => {
    // Restarted on bad data, resuming from the same cursor: the first trigger is not handled again.
    await Promise.all(watchers.map((w) => w.stop()))
    const watcher = startWatcher(
      retrainerConfig(
        'retrainer-shuffled.json',
        yearsCsv('shuffled.csv', [2013, 2014, 2015], (labels) => shuffled(labels, seededRandom(5))),
      ),
    )
    // A policy watching v1 over the UTC day, no cooldown: the drift above fires it again.
    writeFileSync(
      join(dir, 'policy.json'),
      JSON.stringify({
        version: 1,
        when: { anyFeatureDrifted: { consecutiveWindows: 1, minDevices: 1, windowMinutes: 1440 } },
        cooldownMinutes: 0,
        graceMinutes: 0,
      }),
    )
    await cli(dev, ['policy', 'set', 'weather', join(dir, 'policy.json')])
    const policy = JSON.parse(await cli(dev, ['policy', 'evaluate', 'weather', '--close-open-window', '--json']))
    const second = policy.state.lastEventId
    expect(second).not.toBe(trigger)

    const run = await until(
      'a rejected run of the second trigger',
      async () => (await get(`/v1/models/weather/runs?trigger=${second}`)).runs[0],
      120_000,
      watcher,
    )
    expect(run, watcher.stderr()).toMatchObject({ status: 'rejected', trigger: second, version: null, rollout: null })
    const gate = run.gates.find((g: any) => !g.passed)
    expect(gate.gate).toBe('baseline:minDelta')
    const [rejected] = (await get('/v1/events?model=weather&type=retrain.rejected')).events
    expect(rejected.details).toMatchObject({ runId: run.id, trigger: second })
    expect(rejected.details.gates[0]).toMatch(/^accuracy .* vs majority class/)
    const said = new RegExp(`${second}: run ${run.id} rejected: gate baseline:minDelta failed`)
    await until(
      'the rejection on stderr',
      async () => (said.test(watcher.stderr()) ? true : undefined),
      30_000,
      watcher,
    )
    expect(watcher.stderr()).not.toContain(trigger)
    // Nothing published, nothing rolled out: v2 stays in production, the promoted rollout the last one.
    const model = await get('/v1/models/weather')
    expect(model.latestVersion).toBe(2)
    expect(model.aliases).toMatchObject({ production: 2 })
    expect((await get(`/v1/models/weather/runs/${runId}`)).status).toBe('completed')
    expect((await get('/v1/models/weather/runs')).runs).toHaveLength(2)
  }, 240_000)
})
