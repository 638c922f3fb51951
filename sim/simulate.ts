import { chromium, type Browser } from 'playwright-core'
import { chromiumArgs, chromiumPath } from '../scripts/lib/chromium.ts'
import { publishCandidate } from './candidates.ts'
import { SimDevice } from './device.ts'
import { armOf } from '../core/rollout/assign.ts'
import type { RolloutConfig } from '../core/formats/rollout.ts'
import { EdgeAdmin, type RolloutState } from './edge-admin.ts'
import { seededRandom, shuffled } from '../scripts/lib/random.ts'
import { scenario as scenarioOf, type ScenarioName } from './scenarios.ts'
import { weatherDays } from './weather-days.ts'

/** Options of one simulation run. */
export interface SimulateOptions {
  /** The edge, e.g. http://127.0.0.1:8787. */
  url: string
  /** An admin token (publishes candidates, starts rollouts, sets policies, creates the app key). */
  token: string
  /** An app key (scope `device`); one is created when absent. */
  appKey?: string
  model?: string
  devices: number
  /** Real minutes the fleet runs (fractions allowed). */
  minutes: number
  scenario: ScenarioName
  seed?: number
  /** Days each device predicts per tick (default 6). */
  daysPerTick?: number
  /** Real milliseconds a tick lasts at least (default 1000): the pace of a device. */
  tickMs?: number
  /** Ticks between telemetry flushes (default 10; the SDK also flushes on its own). */
  flushEveryTicks?: number
  /** Devices driven at once (default 4: each is a Chromium page). */
  concurrency?: number
  log?: (line: string) => void
}

/** What a run did. */
export interface SimulateResult {
  predictions: number
  errors: number
  /** Predictions per version, over the fleet. */
  versions: Record<number, number>
  candidate: number | null
  rollout: RolloutState | null
  dashboard: string[]
}

/**
 * Drives `devices` simulated devices (each a Chromium context running the SDK the edge serves)
 * through a scenario against a running edge for `minutes` real minutes, seeded.
 */
export async function simulate(options: SimulateOptions): Promise<SimulateResult> {
  const log = options.log ?? ((line: string) => console.log(line))
  const model = options.model ?? 'weather'
  const seed = options.seed ?? 1
  const concurrency = options.concurrency ?? 4
  const daysPerTick = options.daysPerTick ?? 6
  const tickMs = options.tickMs ?? 1000
  const flushEveryTicks = options.flushEveryTicks ?? 10
  const admin = new EdgeAdmin(options.url.replace(/\/$/, ''), options.token)
  const plan = scenarioOf(options.scenario, model)

  const detail = await admin.model(model)
  const production = detail.aliases.production
  if (production === undefined) throw new Error(`model "${model}" has no production alias (npm start seeds one)`)
  const active = await admin.currentRollout(model)
  const live = active !== null && (active.status === 'running' || active.status === 'paused')
  if (plan.follow && !live) throw new Error(`model "${model}" has no active rollout to follow`)
  if (live && !plan.follow) {
    log(`ending rollout ${active.id} left active by an earlier run`)
    await admin.rollback(model, active.id, 'simulator: a new run starts')
  }
  if (plan.policy) {
    await admin.setPolicy(model, plan.policy)
    log(`retraining policy set on ${model}: any feature drifted in a 5-minute window`)
  }
  let candidate: number | null = null
  let rollout: RolloutState | null = plan.follow ? active : null
  if (rollout) log(`following rollout ${rollout.id}: ${rollout.status} at step ${rollout.step + 1}`)
  if (plan.candidate) {
    candidate = await publishCandidate({
      url: admin.url,
      token: options.token,
      model,
      parent: production,
      days: weatherDays(plan.candidate.trainYears),
      kind: plan.candidate.kind,
      seed,
    })
    log(`published ${model} v${candidate} (${plan.candidate.kind}, trained on ${plan.candidate.trainYears.join('+')})`)
  }
  const appKey = options.appKey ?? (await admin.createAppKey(`simulator-${seed}`))

  const days = weatherDays(plan.years)
  const browser: Browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs })
  const devices: SimDevice[] = []
  try {
    log(`opening ${options.devices} devices (${plan.years.join('+')} weather, seed ${seed})…`)
    await inBatches(range(options.devices), concurrency, async (i) => {
      devices[i] = await SimDevice.open(browser, { url: admin.url, appKey, model, id: `sim-${seed}-${i}` })
    })
    const feeds = plan.once
      ? // One seeded order of the days, dealt out to the devices.
        devices.map((_, i) => shuffled(days, seededRandom(seed)).filter((_, k) => k % devices.length === i))
      : // Each device walks its own seeded order of the real days.
        devices.map((_, i) => shuffled(days, seededRandom(seed * 1000 + i)))
    const cursor = devices.map(() => 0)
    const ticks = Math.max(1, Math.floor((options.minutes * 60_000) / tickMs))
    const perTick = (i: number) => (plan.once ? Math.ceil(feeds[i].length / ticks) : daysPerTick)
    /** The next `k` days of device `i` (once: what is left of its share, at most `k`). */
    const take = (i: number, k: number) => {
      const n = plan.once ? Math.max(0, Math.min(k, feeds[i].length - cursor[i])) : k
      const out = Array.from({ length: n }, (_, j) => feeds[i][(cursor[i] + j) % feeds[i].length])
      cursor[i] += n
      return out
    }
    if (plan.rollout && candidate !== null) {
      const config = plan.rollout(candidate, options.devices, options.minutes)
      rollout = await startWithBothArms(
        admin,
        model,
        config,
        devices.map((d) => d.wireId),
        log,
      )
      log(`rollout ${rollout.id} started: ${model} v${candidate} against v${production}`)
    }
    const started = Date.now()
    const durationMs = options.minutes * 60_000
    let lastStatus = ''
    for (let tick = 0; Date.now() - started < durationMs; tick++) {
      const tickStarted = Date.now()
      const progress = (tickStarted - started) / durationMs
      await inBatches(devices, concurrency, async (device, i) => {
        if (plan.offline) await device.setOffline(plan.offline(i, devices.length, progress))
        await device.live(take(i, perTick(i)), {
          refresh: rollout !== null,
          flush: tick % flushEveryTicks === flushEveryTicks - 1,
        })
      })
      if (rollout) {
        rollout = await admin.rollout(model, rollout.id)
        const status = `${rollout.status} at step ${rollout.step + 1}`
        if (status !== lastStatus) log(`rollout ${rollout.id}: ${status}`)
        lastStatus = status
        if (plan.follow && (rollout.status === 'promoted' || rollout.status === 'rolled_back')) break
      }
      if (tick % 5 === 0) {
        const stats = await Promise.all(devices.map((d) => d.stats()))
        const predictions = stats.reduce((a, s) => a + s.predictions, 0)
        log(`${Math.round((Date.now() - started) / 1000)} s: ${predictions} predictions on ${devices.length} devices`)
      }
      await sleep(tickMs - (Date.now() - tickStarted))
    }
    if (plan.offline) await Promise.all(devices.map((d) => d.setOffline(false)))
    // A slow machine may have run fewer ticks than planned: the fleet still sees every day once.
    if (plan.once)
      await inBatches(devices, concurrency, (d, i) => d.live(take(i, Infinity), { refresh: false, flush: false }))
    // With the network on, every queued batch goes out before the run ends.
    log('sending the telemetry still queued on the devices…')
    await inBatches(devices, concurrency, async (d) => {
      if (!(await d.drain(90_000))) log(`${d.id}: telemetry still queued after 90 s`)
    })
    const stats = await Promise.all(devices.map((d) => d.stats()))
    const versions: Record<number, number> = {}
    for (const s of stats) for (const [v, n] of Object.entries(s.versions)) versions[+v] = (versions[+v] ?? 0) + n
    if (rollout) rollout = await admin.rollout(model, rollout.id)
    const dashboard = plan.look.map((l) => `${admin.url}/dashboard/#/${l.path}   ${l.what}`)
    log(`done: ${stats.reduce((a, s) => a + s.predictions, 0)} predictions, per version ${JSON.stringify(versions)}`)
    if (rollout) log(`rollout ${rollout.id}: ${rollout.status}`)
    log(`look at:\n  ${dashboard.join('\n  ')}`)
    return {
      predictions: stats.reduce((a, s) => a + s.predictions, 0),
      errors: stats.reduce((a, s) => a + s.errors, 0),
      versions,
      candidate,
      rollout,
      dashboard,
    }
  } finally {
    await Promise.all(devices.map((d) => d?.close()))
    await browser.close()
  }
}

/** How many times a split that leaves an arm empty is drawn again (each draw fails with p ≤ 2·½ⁿ). */
const MAX_DRAWS = 20

/**
 * Starts the rollout so that its first step puts at least one of `deviceIds` in each arm. The split is
 * a hash of the rollout id, which the edge draws at random: with a handful of simulated devices a 50%
 * step leaves an arm empty often (1 in 8 for four devices), and such a step can never gather the
 * devices it waits for. That draw is ended before any device has asked for its assignment, and a new
 * rollout (a new id, a new split) is started. A real fleet has too many devices for this to matter.
 */
async function startWithBothArms(
  admin: EdgeAdmin,
  model: string,
  config: RolloutConfig,
  /** The ids the edge sees (SimDevice.wireId). */
  deviceIds: readonly string[],
  log: (line: string) => void,
): Promise<RolloutState> {
  const first = config.steps[0]
  // Targeting reads device capabilities the simulator does not know beforehand: such a split is kept,
  // as is one that cannot leave an arm empty.
  const redraw = first.percent > 0 && first.percent < 100 && deviceIds.length >= 2 && !config.targeting
  for (let draw = 1; ; draw++) {
    const rollout = await admin.startRollout(model, config)
    if (!redraw || draw === MAX_DRAWS) return rollout
    const view = { id: rollout.id, percent: first.percent }
    const candidates = deviceIds.filter((id) => armOf(view, id, { webgpu: false }) === 'candidate').length
    if (candidates > 0 && candidates < deviceIds.length) return rollout
    const arm = candidates === 0 ? 'baseline' : 'candidate'
    log(
      `rollout ${rollout.id} put all ${deviceIds.length} devices in the ${arm} arm at ${first.percent}%; drawing again`,
    )
    await admin.rollback(model, rollout.id, `simulator: every device fell in the ${arm} arm; a new split is drawn`)
  }
}

/** Resolves after `ms` (at once when ≤ 0). */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)))

/** 0 … n-1. */
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** Runs `fn` over `items`, at most `size` at a time (2 cores: a few pages at once). */
async function inBatches<T>(items: readonly T[], size: number, fn: (item: T, i: number) => Promise<void>) {
  for (let start = 0; start < items.length; start += size)
    await Promise.all(items.slice(start, start + size).map((item, k) => fn(item, start + k)))
}
