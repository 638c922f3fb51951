import { afterAll, describe, expect, test } from 'vitest'
import { DB_VERSION, openDatabase } from '../../client/db.ts'
import { createFleet, type Fleet } from '../../client/fleet.ts'
import { isEdgefleetError } from '../../core/errors.ts'
import { PageEdge, WORKER_URL, weatherAssignment } from './support/page-edge.ts'

/**
 * An upgrade of the SDK's IndexedDB database blocked by an older connection: another tab still runs
 * an older SDK (database version 2) and does not close on `versionchange`. Here that connection is
 * opened in the same page, which blocks the upgrade the same way. The SDK refuses with `conflict`
 * instead of hanging, changes nothing, and works as soon as the old connection is gone, keeping the
 * data the old version stored.
 */

/** Opens `name` at version 2 as the SDK of that version created it, with a device id stored; left open. */
function openOldVersion(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 2)
    req.onupgradeneeded = () => {
      const db = req.result
      db.createObjectStore('fileMeta', { keyPath: 'sha256' }).createIndex('lastUsed', 'lastUsed')
      db.createObjectStore('fileBytes')
      db.createObjectStore('models', { keyPath: 'model' })
      db.createObjectStore('meta').put('device-of-the-old-version', 'deviceId')
      db.createObjectStore('telemetry', { keyPath: 'seq', autoIncrement: true })
    }
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (isEdgefleetError(e) ? e.code : String(e)),
  )

describe('an IndexedDB upgrade blocked by a second tab on an old version', () => {
  const fleets: Fleet[] = []
  afterAll(async () => {
    for (const f of fleets) await f.close()
  })

  test('openDatabase refuses with conflict, then upgrades once the old connection closes', async () => {
    const name = `blocked-db-${Date.now()}`
    const old = await openOldVersion(name)
    expect(await codeOf(openDatabase(name, 200))).toBe('conflict')
    expect(old.version).toBe(2)
    old.close()
    const db = await openDatabase(name, 200)
    expect(db.version).toBe(DB_VERSION)
    expect([...db.objectStoreNames]).toContain('partials')
    expect(await db.get('meta', 'deviceId')).toBe('device-of-the-old-version')
    db.close()
  })

  test('the fleet rejects with conflict while blocked; later calls load and keep the old data', async () => {
    const name = `blocked-fleet-${Date.now()}`
    const old = await openOldVersion(name)
    const edge = new PageEdge()
    edge.assignments.set('weather', await weatherAssignment(edge))
    const fleet = createFleet({
      endpoint: edge.origin,
      appKey: 'ef_test_key',
      fetch: edge.fetch,
      workerUrl: WORKER_URL,
      dbName: name,
      telemetry: false,
    })
    fleets.push(fleet)
    expect(await codeOf(fleet.deviceId())).toBe('conflict')
    expect(await codeOf(fleet.load('weather', { backends: ['wasm'] }))).toBe('conflict')

    old.close()
    expect(await fleet.deviceId()).toBe('device-of-the-old-version')
    const model = await fleet.load('weather', { backends: ['wasm'] })
    expect(model.version).toBe(1)
  }, 60_000)
})
