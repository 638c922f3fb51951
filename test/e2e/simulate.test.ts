// The fleet simulator end to end: a real `wrangler dev` seeded like `npm start`, simulated devices
// (Chromium contexts running the SDK the edge serves) driven through two scenarios, and the fleet
// view and the rollout read back over the public API afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FleetView } from '../../core/formats/fleet.ts'
import { simulate } from '../../sim/simulate.ts'
import { createAppKey, publishWeather } from '../helpers/edge-seed.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

const DEVICES = 4

describe('npm run simulate', () => {
  let dev: WranglerDev
  let appKey: string
  const lines: string[] = []

  beforeAll(async () => {
    dev = await startWranglerDev({ vars: { TELEMETRY_MIN_DEVICES: '2' } })
    await publishWeather(dev)
    appKey = await createAppKey(dev)
  }, 180_000)

  afterAll(async () => {
    await dev?.stop({ removeState: true })
  })

  const fleetView = async (version: number) => {
    const res = await fetch(`${dev.url}/v1/models/weather/telemetry?version=${version}`, {
      headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
    })
    expect(res.status).toBe(200)
    return FleetView.parse(await res.json())
  }

  it('drift: 2015 weather drifts temp_max and not wind in the fleet view', async () => {
    const result = await simulate({
      url: dev.url,
      token: E2E_ADMIN_TOKEN,
      appKey,
      devices: DEVICES,
      minutes: 0.5,
      scenario: 'drift',
      seed: 1,
      log: (l) => lines.push(l),
    })
    // Every day of 2015 once, across the fleet.
    expect(result.predictions).toBe(365)
    expect(result.errors).toBe(0)
    expect(Object.keys(result.versions)).toEqual(['1'])
    const view = await fleetView(1)
    const cohort = view.cohorts.find((c) => c.version === 1 && c.role === 'primary')!
    if (cohort.total.suppressed) throw new Error('the cohort of four devices is suppressed under k = 2')
    expect(cohort.total.inferences).toBe(result.predictions)
    const { temp_max, wind } = cohort.total.features
    expect(temp_max).toMatchObject({ drifted: true, reason: 'drifted' })
    expect(wind).toMatchObject({ drifted: false, reason: 'no_drift' })
    expect(lines.join('\n')).toContain(`${dev.url}/dashboard/#/models/weather/telemetry`)
  }, 150_000)

  it('bad-candidate: a model trained on shuffled labels is rolled back by the accuracy guardrail', async () => {
    const result = await simulate({
      url: dev.url,
      token: E2E_ADMIN_TOKEN,
      appKey,
      devices: DEVICES,
      minutes: 0.75,
      scenario: 'bad-candidate',
      seed: 2,
      daysPerTick: 10,
      log: (l) => lines.push(l),
    })
    const log = lines.join('\n')
    expect(result.candidate, log).toBe(2)
    // Both arms served predictions before the guardrail stopped the candidate.
    expect(result.versions[1], log).toBeGreaterThan(0)
    expect(result.versions[2], log).toBeGreaterThan(0)
    expect(result.rollout?.status, log).toBe('rolled_back')
    const res = await fetch(`${dev.url}/v1/events?model=weather&type=rollout.*`, {
      headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
    })
    const { events } = (await res.json()) as {
      events: { type: string; actor: string; details: { rollout?: string } }[]
    }
    // The rollback of this rollout, by the guardrail and not by a person or the simulator.
    const rolledBack = events.find((e) => e.type === 'rollout.rolled_back' && e.details.rollout === result.rollout?.id)
    expect(rolledBack?.actor).toBe('rollout')
  }, 150_000)
})
