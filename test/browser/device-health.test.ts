import { afterAll, describe, expect, test } from 'vitest'
import { openDB } from 'idb'
import { createFleet, type Fleet } from '../../client/fleet.ts'
import { openDatabase } from '../../client/db.ts'
import { LoadMarkers } from '../../client/health/load-markers.ts'
import { armCrash, crashingWorkerUrl } from './support/crash-control.ts'
import { PageEdge, WORKER_URL, weatherAssignment } from './support/page-edge.ts'

const CRASH_CHANNEL = 'device-health'

const row = { precipitation: 0, temp_max: 12, temp_min: 5, wind: 3 }

describe('device health counted on the device', () => {
  const fleets: Fleet[] = []
  afterAll(async () => {
    for (const f of fleets) await f.close()
  })

  test('a worker crash under a loaded version is reported once as workerCrash of that version and backend', async () => {
    const edge = new PageEdge()
    const { version } = await weatherAssignment(edge)
    edge.assignments.set('weather', await weatherAssignment(edge))
    const fleet = createFleet({
      endpoint: edge.origin,
      appKey: 'ef_test_key',
      fetch: edge.fetch,
      workerUrl: crashingWorkerUrl(CRASH_CHANNEL),
      dbName: `health-crash-${Date.now()}`,
    })
    fleets.push(fleet)
    const model = await fleet.load('weather', { backends: ['wasm'] })
    await model.predict(row)
    await armCrash(CRASH_CHANNEL)
    await model.predict(row).catch(() => undefined)
    // The crash is noticed when the page is granted the dead worker's lock.
    await new Promise((r) => setTimeout(r, 200))
    await fleet.flush()
    const health = edge
      .reports()
      .filter((r) => r.health)
      .map((r) => [r.model, r.version, r.backend, r.health])
    expect(health).toEqual([
      ['weather', version, 'wasm', { deviceLost: 0, oomLoad: 0, oomRun: 0, workerCrash: 1, loadAbandoned: 0 }],
    ])
  }, 60_000)

  test("the next page's crash beacon reports a load a dead page left, once, for the version it names", async () => {
    const dbName = `health-beacon-${Date.now()}`
    const edge = new PageEdge()
    const assignment = await weatherAssignment(edge)
    edge.assignments.set('weather', assignment)
    // A page that died mid-load: its marker stays, and no lock of a living page covers it.
    const db = await openDatabase(dbName)
    const dead = new LoadMarkers(db, { locks: null })
    await dead.mark({ model: 'weather', version: 2, role: 'primary', backend: 'webgpu', fallbacks: {} }, 1)
    // A page still loading (its lock held) keeps its marker.
    const alive = new LoadMarkers(db)
    const clearAlive = await alive.mark(
      { model: 'weather', version: assignment.version, role: 'primary', backend: 'wasm', fallbacks: {} },
      1,
    )
    db.close()

    const open = (name: string) =>
      createFleet({
        endpoint: edge.origin,
        appKey: 'ef_test_key',
        fetch: edge.fetch,
        workerUrl: WORKER_URL,
        dbName: name,
      })
    const fleet = open(dbName)
    fleets.push(fleet)
    await (await fleet.load('weather', { backends: ['wasm'] })).predict(row)
    await fleet.flush()
    const beacons = () => edge.reports().filter((r) => r.health?.loadAbandoned)
    expect(beacons().map((r) => [r.version, r.backend, r.health, r.counts.loads])).toEqual([
      [2, 'webgpu', { deviceLost: 0, oomLoad: 0, oomRun: 0, workerCrash: 0, loadAbandoned: 1 }, 0],
    ])
    await fleet.close()

    // Another page of the origin finds nothing more to send: the marker was taken once.
    const second = open(dbName)
    fleets.push(second)
    await (await second.load('weather', { backends: ['wasm'] })).predict(row)
    await second.flush()
    expect(beacons()).toHaveLength(1)
    // The living page's marker is still there, and its own page clears it.
    const raw = await openDB(dbName)
    const keys = (await raw.getAllKeys('meta')).filter((k) => String(k).startsWith('loading:'))
    expect(keys).toHaveLength(1)
    raw.close()
    await clearAlive()
  }, 60_000)
})
