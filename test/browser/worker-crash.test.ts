import { afterAll, describe, expect, test } from 'vitest'
import { createFleet, type Fleet } from '../../client/fleet.ts'
import { isEdgefleetError } from '../../core/errors.ts'
import { armCrash, crashingWorkerUrl } from './support/crash-control.ts'
import { PageEdge, weatherAssignment } from './support/page-edge.ts'

const CRASH_CHANNEL = 'worker-crash'

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (isEdgefleetError(e) ? e.code : String(e)),
  )

describe('the inference worker crashing', () => {
  const fleets: Fleet[] = []
  afterAll(async () => {
    for (const f of fleets) await f.close()
  })

  test('the call in flight rejects with backend_unavailable; a new worker serves the next load', async () => {
    const edge = new PageEdge()
    edge.assignments.set('weather', await weatherAssignment(edge))
    const fleet = createFleet({
      endpoint: edge.origin,
      appKey: 'ef_test_key',
      fetch: edge.fetch,
      workerUrl: crashingWorkerUrl(CRASH_CHANNEL),
      dbName: `worker-crash-${Date.now()}`,
      telemetry: false,
    })
    fleets.push(fleet)
    const row = { precipitation: 0, temp_max: 12, temp_min: 5, wind: 3 }
    const model = await fleet.load('weather', { backends: ['wasm'] })
    const { id: _id, ms: _ms, ...before } = await model.predict(row)

    await armCrash(CRASH_CHANNEL)
    // The call the worker dies on does not hang: it rejects with a stable code, and so does the next
    // call on a model of that worker.
    expect(await codeOf(model.predict(row))).toBe('backend_unavailable')
    expect(await codeOf(model.predict(row))).toBe('backend_unavailable')

    // Loading again starts another worker (from the cached files) and predicts as before.
    const again = await fleet.load('weather', { backends: ['wasm'] })
    const { id: _id2, ms: _ms2, ...after } = await again.predict(row)
    expect(after).toEqual(before)
  }, 60_000)
})
