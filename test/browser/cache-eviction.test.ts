/**
 * @module
 * The cache's eviction order in real IndexedDB: files no model refers to go first, then the previous
 * versions kept for instant rollback, then current versions; least recently used first only within a
 * tier, so a previous version's files outlive a newer file nothing refers to.
 */
import { describe, expect, test } from 'vitest'
import { ModelCache } from '../../client/cache.ts'
import { openDatabase } from '../../client/db.ts'
import type { Assignment } from '../../core/formats/assignment.ts'
import vectors from '../vectors/formats/assignment.valid.json'

const TEMPLATE = (vectors as { value: Assignment }[])[0].value
const KB = 1000
const sha = (c: string) => c.repeat(64)

/** An assignment of `model` at `version` whose one file is `sha256`. */
function assignment(model: string, version: number, sha256: string): Assignment {
  return {
    ...TEMPLATE,
    model,
    version,
    files: [{ path: 'model.onnx', url: `https://edge.test/v1/artifacts/${sha256}`, sha256, size: KB }],
  }
}

describe('ModelCache eviction', () => {
  test('a previous version survives a newer unreferenced file; then it goes before any current version', async () => {
    const clock = { t: 1 }
    const db = await openDatabase(`eviction-${Date.now()}`)
    const cache = new ModelCache(db, { budgetBytes: 3 * KB, now: () => clock.t, estimate: async () => ({}) })
    const put = async (sha256: string) => {
      clock.t++
      await cache.putFile(sha256, new ArrayBuffer(KB))
    }

    await cache.putAssignment('weather', assignment('weather', 1, sha('a')), undefined, clock.t)
    await put(sha('a'))
    // Version 2 replaces 1: version 1's file is now the previous (instant-rollback) copy.
    await cache.putAssignment('weather', assignment('weather', 2, sha('b')), undefined, clock.t)
    await put(sha('b'))
    // The newest file of all, referenced by no model.
    await put(sha('c'))
    expect((await cache.getModel('weather'))?.previous?.version).toBe(1)

    // Over budget by one file: the unreferenced one goes, although the previous version's is older.
    await cache.putAssignment('vad', assignment('vad', 1, sha('d')), undefined, clock.t)
    await put(sha('d'))
    expect(await cache.hasFile(sha('c'))).toBe(false)
    expect(await cache.hasFile(sha('a'))).toBe(true)

    // Over budget again, nothing unreferenced left: the previous version goes before any current one.
    await cache.putAssignment('ocr', assignment('ocr', 1, sha('e')), undefined, clock.t)
    await put(sha('e'))
    expect(await cache.hasFile(sha('a'))).toBe(false)
    for (const current of ['b', 'd', 'e']) expect(await cache.hasFile(sha(current))).toBe(true)
    expect(await cache.totalBytes()).toBe(3 * KB)
    cache.close()
  })

  test('pinned files (runtime files, models in use) are never evicted, even when oldest', async () => {
    const clock = { t: 1 }
    const db = await openDatabase(`eviction-pinned-${Date.now()}`)
    const cache = new ModelCache(db, { budgetBytes: 2 * KB, now: () => clock.t, estimate: async () => ({}) })
    cache.pin([sha('1')])
    for (const c of ['1', '2', '3']) {
      clock.t++
      await cache.putFile(sha(c), new ArrayBuffer(KB))
    }
    expect(await cache.hasFile(sha('1'))).toBe(true)
    expect(await cache.hasFile(sha('2'))).toBe(false)
    expect(await cache.hasFile(sha('3'))).toBe(true)
    cache.close()
  })

  test("a write that would exceed the origin's quota evicts first (pinned files stay), however large the budget", async () => {
    // The storage estimate is the browser's word on the quota; here a small one, so the quota (not the
    // 1 MB budget) is what runs out. A refused write ending in quota_exceeded is in test/e2e/sdk.test.ts
    // (a quota forced through the DevTools protocol, which this project cannot reach).
    const clock = { t: 1 }
    const db = await openDatabase(`eviction-quota-${Date.now()}`)
    const cache = new ModelCache(db, {
      budgetBytes: 1000 * KB,
      now: () => clock.t,
      estimate: async () => ({ usage: 0, quota: 3.5 * KB }),
    })
    const put = async (c: string) => {
      clock.t++
      await cache.putFile(sha(c), new ArrayBuffer(KB))
    }
    for (const c of ['a', 'b', 'c']) await put(c)
    expect(await cache.totalBytes()).toBe(3 * KB)
    // A fourth file leaves under 5% headroom: the least recently used one goes before the write.
    await put('d')
    expect(await cache.hasFile(sha('a'))).toBe(false)
    for (const c of ['b', 'c', 'd']) expect(await cache.hasFile(sha(c))).toBe(true)
    // A pinned file is passed over: the next oldest goes instead.
    cache.pin([sha('b')])
    await put('e')
    expect(await cache.hasFile(sha('b'))).toBe(true)
    expect(await cache.hasFile(sha('c'))).toBe(false)
    expect(await cache.totalBytes()).toBe(3 * KB)
    cache.close()
  })
})
