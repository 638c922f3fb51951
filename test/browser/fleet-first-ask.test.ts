import { afterAll, describe, expect, test } from 'vitest'
import { createFleet, type Fleet } from '../../client/fleet.ts'
import { isEdgefleetError } from '../../core/errors.ts'
import { PageEdge, WORKER_URL, weatherAssignment } from './support/page-edge.ts'

/**
 * A page's first load of a model has no last-known-good assignment to fall back to, so the SDK
 * retries a failed assignment request twice before giving up, and says why the edge was unreachable.
 */
describe('the first assignment request of a model', () => {
  const fleets: Fleet[] = []
  afterAll(async () => {
    for (const f of fleets) await f.close()
  })

  /** A fetch that drops the first `failures` assignment requests as a lost connection does. */
  function flaky(edge: PageEdge, failures: number) {
    const asks: number[] = []
    const fetch: typeof globalThis.fetch = async (input, init) => {
      if (String(input instanceof Request ? input.url : input).includes('/v1/assign/')) {
        asks.push(performance.now())
        if (asks.length <= failures) throw new TypeError('Failed to fetch')
      }
      return edge.fetch(input, init)
    }
    return { asks, fetch }
  }

  test('loads after two dropped requests, retried after about 0.5 s and 2 s', async () => {
    const edge = new PageEdge()
    edge.assignments.set('weather', await weatherAssignment(edge))
    const { asks, fetch } = flaky(edge, 2)
    const fleet = createFleet({
      endpoint: edge.origin,
      appKey: 'ef_test_key',
      fetch,
      workerUrl: WORKER_URL,
      dbName: 'fleet-first-ask-ok',
      telemetry: false,
    })
    fleets.push(fleet)
    const model = await fleet.load('weather', { backends: ['wasm'] })
    expect(model.version).toBe(1)
    expect(asks).toHaveLength(3)
    expect(asks[1]! - asks[0]!).toBeGreaterThanOrEqual(450)
    expect(asks[2]! - asks[1]!).toBeGreaterThanOrEqual(1950)
  })

  test('fails with network_error naming the cause after three attempts, and a later load asks again', async () => {
    const edge = new PageEdge()
    edge.assignments.set('weather', await weatherAssignment(edge))
    const { asks, fetch } = flaky(edge, 3)
    const fleet = createFleet({
      endpoint: edge.origin,
      appKey: 'ef_test_key',
      fetch,
      workerUrl: WORKER_URL,
      dbName: 'fleet-first-ask-down',
      telemetry: false,
    })
    fleets.push(fleet)
    const error = await fleet.load('weather', { backends: ['wasm'] }).catch((e: unknown) => e)
    expect(isEdgefleetError(error) && error.code).toBe('network_error')
    expect((error as Error).message).toBe(`the edge at ${edge.origin} is unreachable (Failed to fetch)`)
    expect(asks).toHaveLength(3)
    const model = await fleet.load('weather', { backends: ['wasm'] })
    expect(model.version).toBe(1)
    expect(asks).toHaveLength(4)
  })

  test('an answer from the edge (404) is not retried', async () => {
    const edge = new PageEdge()
    const { asks, fetch } = flaky(edge, 0)
    const fleet = createFleet({
      endpoint: edge.origin,
      appKey: 'ef_test_key',
      fetch,
      workerUrl: WORKER_URL,
      dbName: 'fleet-first-ask-404',
      telemetry: false,
    })
    fleets.push(fleet)
    const error = await fleet.load('weather', { backends: ['wasm'] }).catch((e: unknown) => e)
    expect(isEdgefleetError(error) && error.code).toBe('not_found')
    expect(asks).toHaveLength(1)
  })
})
