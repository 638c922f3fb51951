import { afterAll, describe, expect, test } from 'vitest'
import type { Assignment } from '../../core/formats/assignment.ts'
import { createFleet, type Fleet, type FleetEvent } from '../../client/fleet.ts'
import { PageEdge, WORKER_URL, weatherAssignment } from './support/page-edge.ts'

/**
 * The SDK re-asks for its assignment every `ttlSeconds` of the latest answer: a rollout that
 * shortens the ttl (so its kill switch reaches devices fast) applies from the answer announcing it,
 * and the end of the rollout lengthens it again.
 */
describe('assignment refresh follows the latest ttl', () => {
  const fleets: Fleet[] = []
  afterAll(async () => {
    for (const f of fleets) await f.close()
  })

  test('a ttl shortened by a new assignment is used at once, and lengthened again later', async () => {
    const edge = new PageEdge()
    const asks: number[] = []
    const fetch: typeof globalThis.fetch = (input, init) => {
      if (String(input instanceof Request ? input.url : input).includes('/v1/assign/')) asks.push(performance.now())
      return edge.fetch(input, init)
    }
    const v1: Assignment = await weatherAssignment(edge)
    edge.assignments.set('weather', v1)
    const events: FleetEvent[] = []
    const fleet = createFleet({
      endpoint: edge.origin,
      appKey: 'ef_test_key',
      fetch,
      workerUrl: WORKER_URL,
      dbName: 'fleet-refresh',
      telemetry: false,
      onEvent: (e) => events.push(e),
    })
    fleets.push(fleet)
    const model = await fleet.load('weather', { backends: ['wasm'] })
    expect(asks).toHaveLength(1)

    // A rollout starts: same version, a 1 s ttl (learned here by an explicit refresh, as a 60 s timer would).
    edge.assignments.set('weather', {
      ...v1,
      rollout: { id: 'ro_refresh', arm: 'baseline', mode: 'canary' },
      ttlSeconds: 1,
    })
    await model.refresh()
    const afterRefresh = asks.length
    // The rollout moves this device to version 2: it must be asked and swapped within a few of the new ttls.
    edge.assignments.set('weather', {
      ...v1,
      version: 2,
      rollout: { id: 'ro_refresh', arm: 'candidate', mode: 'canary' },
      ttlSeconds: 1,
    })
    const deadline = performance.now() + 10_000
    // The model serves version 2 as soon as it swaps; the `swapped` event follows once the assignment is stored.
    const swapped = () => events.some((e) => e.type === 'swapped' && e.to === 2)
    while ((model.version !== 2 || !swapped()) && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 100))
    expect(model.version).toBe(2)
    expect(asks.length - afterRefresh).toBeGreaterThanOrEqual(1)
    expect(swapped()).toBe(true)

    // The rollout ends: back to a 60 s ttl; no more asks within the next 2.5 s.
    edge.assignments.set('weather', { ...v1, version: 2, ttlSeconds: 60 })
    const settle = performance.now() + 10_000
    while (asks.length === 0 || performance.now() - asks[asks.length - 1] < 2_500) {
      if (performance.now() > settle) break
      await new Promise((r) => setTimeout(r, 100))
    }
    const quietFrom = asks.length
    await new Promise((r) => setTimeout(r, 2_500))
    expect(asks.length).toBe(quietFrom)
  }, 60_000)
})
