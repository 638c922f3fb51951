/**
 * @module
 * Signed models in Chromium: a fleet given `trustedKeys` runs a version only when one of the keys
 * signed every file it downloads (OpenSSF model signing bundle, verified with WebCrypto). An unsigned
 * version, one signed by another key, or one whose signature covers other bytes is refused with
 * `signature_error` before any download, and the last good version keeps answering.
 */
import { afterAll, describe, expect, test } from 'vitest'
import { createFleet, type Fleet, type FleetEvent } from '../../client/fleet.ts'
import { isEdgefleetError } from '../../core/errors.ts'
import type { Assignment, ManifestFile } from '../../core/formats/assignment.ts'
import { signBundle } from '../../core/signing/bundle.ts'
import { pemToDer } from '../../core/signing/pem.ts'
import otherKey from '../vectors/signing/other.key.pem?raw'
import publisherKey from '../vectors/signing/publisher.key.pem?raw'
import publisherPub from '../vectors/signing/publisher.pub.pem?raw'
import { PageEdge, WORKER_URL, weatherAssignment } from './support/page-edge.ts'

const ROW = { precipitation: 0, temp_max: 18, temp_min: 9, wind: 3 }

/** The bundle of `key` over `files` (their paths and digests as listed). */
const bundleOf = (files: readonly ManifestFile[], key = publisherKey) =>
  signBundle(
    'weather',
    files.map((f) => ({ name: f.path, digest: f.sha256 })),
    pemToDer(key, 'PRIVATE KEY')!,
  ) as Promise<Assignment['sigstoreBundle']>

/** The error code a promise rejects with. */
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    return isEdgefleetError(e) ? e.code : `not an EdgefleetError: ${String(e)}`
  }
  return 'resolved'
}

describe('a fleet with trusted keys', () => {
  const fleets: Fleet[] = []
  afterAll(async () => {
    for (const f of fleets) await f.close()
  })
  const open = (edge: PageEdge, dbName: string, events: FleetEvent[] = [], fetch = edge.fetch) => {
    const fleet = createFleet({
      endpoint: edge.origin,
      appKey: 'ef_test_key',
      fetch,
      workerUrl: WORKER_URL,
      dbName,
      telemetry: false,
      trustedKeys: [publisherPub],
      onEvent: (e) => events.push(e),
    })
    fleets.push(fleet)
    return fleet
  }

  test('runs a signed version, refuses each bad signature on refresh and keeps serving the last good one', async () => {
    const edge = new PageEdge()
    const v1 = await weatherAssignment(edge)
    edge.assignments.set('weather', { ...v1, sigstoreBundle: await bundleOf(v1.files) })
    const events: FleetEvent[] = []
    const model = await open(edge, 'signing-refresh', events).load('weather', { backends: ['wasm'] })
    expect(model.version).toBe(1)
    const before = await model.predict(ROW)

    // Version 2 is the same model with another file name, so that its bytes are all cached already.
    const files2 = v1.files.map((f) => ({ ...f, path: 'weather.onnx' }))
    const other = await bundleOf(files2, otherKey)
    const wrongBytes = await bundleOf(files2.map((f) => ({ ...f, sha256: 'e'.repeat(64) })))
    const v1Only = await bundleOf(v1.files)
    const bad: [string, Assignment['sigstoreBundle'] | undefined, RegExp][] = [
      ['unsigned', undefined, /is not signed/],
      ['signed by another key', other, /another key/],
      ['signing other bytes', wrongBytes, /has sha256/],
      ['signing another file name', v1Only, /weather\.onnx is not in the signed manifest/],
    ]
    for (const [name, sigstoreBundle, message] of bad) {
      edge.assignments.set('weather', {
        ...v1,
        version: 2,
        files: files2,
        ...(sigstoreBundle ? { sigstoreBundle } : {}),
      })
      let caught: unknown
      await model.refresh().catch((e: unknown) => (caught = e))
      expect(isEdgefleetError(caught) && caught.code, name).toBe('signature_error')
      expect((caught as Error).message, name).toMatch(message)
      expect(model.version, name).toBe(1)
      expect((await model.predict(ROW)).output, name).toEqual(before.output)
    }
    expect(events.filter((e) => e.type === 'error' && e.code === 'signature_error')).toHaveLength(bad.length)

    // Signed properly, version 2 swaps in.
    edge.assignments.set('weather', { ...v1, version: 2, files: files2, sigstoreBundle: await bundleOf(files2) })
    await model.refresh()
    expect(model.version).toBe(2)
    expect((await model.predict(ROW)).output).toEqual(before.output)
  }, 120_000)

  test('refuses an unsigned first version before downloading it, and falls back to the cached good one later', async () => {
    const edge = new PageEdge()
    const v1 = await weatherAssignment(edge)
    const downloads: string[] = []
    const fetch: typeof globalThis.fetch = (input, init) => {
      const url = String(input instanceof Request ? input.url : input)
      if (url.includes('/v1/artifacts/')) downloads.push(url)
      return edge.fetch(input, init)
    }
    edge.assignments.set('weather', v1)
    expect(await codeOf(open(edge, 'signing-first', [], fetch).load('weather', { backends: ['wasm'] }))).toBe(
      'signature_error',
    )
    expect(downloads).toEqual([])

    // A device that ran signed v1 opens again while the edge assigns a v2 signed by another key.
    edge.assignments.set('weather', { ...v1, sigstoreBundle: await bundleOf(v1.files) })
    const first = await open(edge, 'signing-fallback').load('weather', { backends: ['wasm'] })
    expect(first.version).toBe(1)
    const files2 = v1.files.map((f) => ({ ...f, path: 'weather.onnx' }))
    edge.assignments.set('weather', {
      ...v1,
      version: 2,
      files: files2,
      sigstoreBundle: await bundleOf(files2, otherKey),
    })
    const events: FleetEvent[] = []
    const again = await open(edge, 'signing-fallback', events).load('weather', { backends: ['wasm'] })
    expect(again.version).toBe(1)
    expect(events).toContainEqual(expect.objectContaining({ type: 'error', code: 'signature_error' }))
  }, 120_000)

  test('createFleet refuses keys that are not PEM public keys, naming the first', () => {
    let caught: unknown
    try {
      createFleet({ endpoint: 'https://edge.test', appKey: 'k', trustedKeys: [publisherPub, 'ssh-ed25519 AAAA'] })
    } catch (e) {
      caught = e
    }
    expect(isEdgefleetError(caught) && caught.code).toBe('bad_request')
    expect((caught as { pointer?: string }).pointer).toBe('/trustedKeys/1')
  })
})
