import { afterAll, describe, expect, test } from 'vitest'
import { openDatabase } from '../../client/db.ts'
import { createFleet, type Fleet, type FleetEvent } from '../../client/fleet.ts'
import { PageEdge, WORKER_URL, weatherAssignment } from './support/page-edge.ts'

/**
 * A corrupted cache entry: the model's bytes in IndexedDB damaged after they were verified and stored
 * (a flipped byte, then a truncated copy). The next load must not run them: the entry is dropped,
 * reported as `integrity_error`, downloaded again from the edge and verified, and the model runs.
 */
describe('a corrupted cache entry', () => {
  const fleets: Fleet[] = []
  afterAll(async () => {
    for (const f of fleets) await f.close()
  })

  test('is detected on read, reported, downloaded again and replaced', async () => {
    const dbName = `cache-corrupt-${Date.now()}`
    const edge = new PageEdge()
    const assignment = await weatherAssignment(edge)
    edge.assignments.set('weather', assignment)
    const model = assignment.files.find((f) => f.path.endsWith('.onnx'))!
    const downloads: string[] = []
    const fetch: typeof globalThis.fetch = (input, init) => {
      const url = String(input instanceof Request ? input.url : input)
      if (url.includes('/v1/artifacts/')) downloads.push(url.slice(url.lastIndexOf('/') + 1))
      return edge.fetch(input, init)
    }
    const open = async () => {
      const events: FleetEvent[] = []
      const fleet = createFleet({
        endpoint: edge.origin,
        appKey: 'ef_test_key',
        fetch,
        workerUrl: WORKER_URL,
        dbName,
        telemetry: false,
        onEvent: (e) => events.push(e),
      })
      fleets.push(fleet)
      const loaded = await fleet.load('weather', { backends: ['wasm'] })
      const row = { precipitation: 0, temp_max: 12, temp_min: 5, wind: 3 }
      // What the model computed, without the prediction's id and timing.
      const { id: _id, ms: _ms, ...prediction } = await loaded.predict(row)
      await fleet.close()
      return { events, prediction }
    }
    const damage = async (change: (bytes: Uint8Array) => ArrayBuffer) => {
      const db = await openDatabase(dbName)
      const bytes = (await db.get('fileBytes', model.sha256)) as ArrayBuffer
      await db.put('fileBytes', change(new Uint8Array(bytes)), model.sha256)
      db.close()
    }

    const first = await open()
    expect(downloads.filter((d) => d === model.sha256)).toHaveLength(1)
    const errors = (events: FleetEvent[]) => events.filter((e) => e.type === 'error')

    // One byte flipped: same size, another digest.
    await damage((b) => {
      const copy = b.slice()
      copy[copy.length >> 1] ^= 0xff
      return copy.buffer
    })
    const second = await open()
    expect(errors(second.events)).toEqual([
      expect.objectContaining({ type: 'error', model: 'weather', code: 'integrity_error' }),
    ])
    expect(downloads.filter((d) => d === model.sha256)).toHaveLength(2)
    expect(second.prediction).toEqual(first.prediction)

    // Truncated to half.
    await damage((b) => b.slice(0, b.length >> 1).buffer)
    const third = await open()
    expect(errors(third.events).map((e) => e.type === 'error' && e.code)).toEqual(['integrity_error'])
    expect(downloads.filter((d) => d === model.sha256)).toHaveLength(3)
    expect(third.prediction).toEqual(first.prediction)

    // The copy stored again is sound: the next load reads it without a download or an error.
    const fourth = await open()
    expect(errors(fourth.events)).toEqual([])
    expect(downloads.filter((d) => d === model.sha256)).toHaveLength(3)
    expect(fourth.prediction).toEqual(first.prediction)
  }, 120_000)
})
