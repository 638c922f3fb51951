import { describe, expect, test } from 'vitest'
import { createFleet } from '../../client/fleet.ts'
import { PageEdge, WORKER_URL, weatherAssignment } from './support/page-edge.ts'
import { seattleRows, weatherRecord } from './support/seattle.ts'
import { seededRandom } from '../../scripts/lib/random.ts'

describe('createFleet({telemetry: {dp}})', () => {
  test('refuses bad privacy settings at once', () => {
    const base = { endpoint: 'https://edge.test', appKey: 'ef_k' }
    expect(() => createFleet({ ...base, telemetry: { dp: { epsilon: -1 } } })).toThrow(
      expect.objectContaining({ code: 'bad_request', pointer: '/telemetry/dp/epsilon' }),
    )
    expect(() => createFleet({ ...base, telemetry: { dp: { epsilon: 2, dailyBudget: 1 } } })).toThrow(
      expect.objectContaining({ pointer: '/telemetry/dp/dailyBudget' }),
    )
  })

  test('the real SDK sends noised, profile-shaped histograms with exact counts, and batches say dp', async () => {
    const edge = new PageEdge()
    const weather = await weatherAssignment(edge)
    edge.assignments.set('weather', weather)
    const fleet = createFleet({
      endpoint: edge.origin,
      appKey: 'ef_k',
      fetch: edge.fetch,
      workerUrl: WORKER_URL,
      dbName: 'fleet-dp-test',
      random: seededRandom(12),
      telemetry: { dp: { epsilon: 2, dailyBudget: 20 } },
    })
    const model = await fleet.load('weather', { backends: ['wasm'] })
    const rows = (await seattleRows()).slice(0, 80)
    await model.predictBatch(rows.map(weatherRecord))
    await fleet.close() // sends the minute still open, noised
    expect(edge.batches.length).toBeGreaterThan(0)
    for (const b of edge.batches) expect(b.dp).toEqual({ epsilon: 2 })
    const reports = edge.reports()
    expect(reports.reduce((a, r) => a + r.counts.inferences, 0)).toBe(rows.length)
    const noised = reports.filter((r) => Object.keys(r.features).length > 0)
    expect(noised.length).toBeGreaterThan(0)
    for (const r of noised) {
      expect(Object.keys(r.features).sort()).toEqual(Object.keys(weather.profile!.features).sort())
      expect(Object.keys(r.outputs).sort()).toEqual(Object.keys(weather.profile!.outputs).sort())
      for (const [name, h] of Object.entries(r.features))
        expect(h.counts).toHaveLength(weather.profile!.features[name].counts.length)
    }
    // Exact histograms would hold 80 values per feature; clipped to one and noised (b = 2·1·6/2 = 6), they do not.
    expect(noised.map((r) => r.features.temp_max.counts.reduce((a, c) => a + c, 0))).not.toContain(rows.length)
  }, 120_000)
})
