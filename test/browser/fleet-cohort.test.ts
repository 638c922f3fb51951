import { afterAll, describe, expect, test } from 'vitest'
import { createFleet, type Fleet } from '../../client/fleet.ts'
import { PageEdge, WORKER_URL, weatherAssignment } from './support/page-edge.ts'

/**
 * `createFleet({cohort})` sends the app's cohort label with every assignment request and in every
 * telemetry batch (`device.cohort`, for the `cohort` slice), and a fleet without one never sends a
 * cohort (the SDK sends nothing the app did not set).
 */
describe('the cohort a fleet sends', () => {
  const fleets: Fleet[] = []
  afterAll(async () => {
    for (const f of fleets) await f.close()
  })

  async function assignUrls(name: string, cohort?: string): Promise<URL[]> {
    const edge = new PageEdge()
    const urls: URL[] = []
    const fetch: typeof globalThis.fetch = (input, init) => {
      const url = String(input instanceof Request ? input.url : input)
      if (url.includes('/v1/assign/')) urls.push(new URL(url))
      return edge.fetch(input, init)
    }
    edge.assignments.set('weather', await weatherAssignment(edge))
    const fleet = createFleet({
      endpoint: edge.origin,
      appKey: 'ef_test_key',
      fetch,
      workerUrl: WORKER_URL,
      dbName: name,
      telemetry: false,
      ...(cohort === undefined ? {} : { cohort }),
    })
    fleets.push(fleet)
    const model = await fleet.load('weather', { backends: ['wasm'] })
    await model.refresh()
    return urls
  }

  test('sends cohort= on the first request and on every refresh', async () => {
    const urls = await assignUrls('fleet-cohort-a', 'store-0042')
    expect(urls.length).toBeGreaterThanOrEqual(2)
    for (const u of urls) {
      expect(u.searchParams.getAll('cohort')).toEqual(['store-0042'])
      expect(u.searchParams.get('device')).toMatch(/^[A-Za-z0-9_-]{8,128}$/)
    }
  })

  test('sends no cohort when the app set none', async () => {
    const urls = await assignUrls('fleet-cohort-none')
    expect(urls.length).toBeGreaterThanOrEqual(2)
    for (const u of urls) expect(u.searchParams.has('cohort')).toBe(false)
  })

  test('carries the label in every telemetry batch, and no cohort key without one', async () => {
    for (const cohort of ['store-0042', undefined]) {
      const edge = new PageEdge()
      edge.assignments.set('weather', await weatherAssignment(edge))
      const fleet = createFleet({
        endpoint: edge.origin,
        appKey: 'ef_test_key',
        fetch: edge.fetch,
        workerUrl: WORKER_URL,
        dbName: `fleet-cohort-telemetry-${cohort ?? 'none'}`,
        ...(cohort === undefined ? {} : { cohort }),
      })
      fleets.push(fleet)
      const model = await fleet.load('weather', { backends: ['wasm'] })
      await model.predict({ precipitation: 0, temp_max: 12, temp_min: 4, wind: 3 })
      await fleet.flush()
      expect(edge.batches.length).toBeGreaterThan(0)
      for (const b of edge.batches)
        if (cohort === undefined) expect('cohort' in b.device).toBe(false)
        else expect(b.device.cohort).toBe(cohort)
    }
  })

  test('refuses a malformed label before any request', () => {
    for (const cohort of ['Main Street store', '', 'x'.repeat(65), 'caf\u00e9'])
      expect(() => createFleet({ endpoint: 'https://edge.example', appKey: 'k', cohort })).toThrow(
        expect.objectContaining({ code: 'bad_request', pointer: '/cohort' }),
      )
  })
})
