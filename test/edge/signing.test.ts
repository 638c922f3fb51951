/**
 * @module
 * Signed versions at the edge: a publish carries the publisher's Sigstore bundle, which must be a
 * model signing bundle that signs every file with its digest; the manifest and the assignment carry
 * it to devices. A bundle no device could accept is refused with `signature_error` and changes nothing.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { signBundle, verifyBundle, trustedKey } from '../../core/signing/bundle.ts'
import { pemToDer } from '../../core/signing/pem.ts'
import { api, bodyOf, createModel, resetState, snapshot, upload } from './api.ts'
import otherKey from '../vectors/signing/other.key.pem?raw'
import publisherKey from '../vectors/signing/publisher.key.pem?raw'
import publisherPub from '../vectors/signing/publisher.pub.pem?raw'

const device = 'dev_0123456789abcdef'
const sign = (files: { path: string; sha256: string }[], pem = publisherKey, model = 'vad') =>
  signBundle(
    model,
    files.map((f) => ({ name: f.path, digest: f.sha256 })),
    pemToDer(pem, 'PRIVATE KEY')!,
  )

beforeEach(resetState)

describe('signed versions', () => {
  it('stores the bundle with the version; the manifest and the assignment carry it, the version list does not', async () => {
    await createModel('vad')
    const model = await upload('model.onnx', new Uint8Array([1, 2, 3]))
    const data = await upload('weights/model.onnx_data', new Uint8Array([4, 5]))
    const files = [model, data]
    const bundle = await sign(files)
    const res = await api('POST', '/v1/models/vad/versions', { body: { files, sigstoreBundle: bundle } })
    expect(res.status).toBe(201)
    expect((await bodyOf(res)).sigstoreBundle).toEqual(bundle)
    const manifest = await bodyOf(await api('GET', '/v1/models/vad/versions/1'))
    expect(manifest.sigstoreBundle).toEqual(bundle)
    // What a device receives verifies with the publisher's key and signs the files it lists.
    await api('PUT', '/v1/models/vad/aliases/production', { body: { version: 1 } })
    const key = (await bodyOf(await api('POST', '/v1/tokens', { body: { name: 'web', scopes: ['device'] } }))).token
    const a = await bodyOf(
      await api('GET', `/v1/assign/vad?device=${device}`, { token: null, headers: { 'X-Edgefleet-Key': key } }),
    )
    const statement = await verifyBundle(a.sigstoreBundle, [await trustedKey(pemToDer(publisherPub, 'PUBLIC KEY')!)])
    expect(statement.resources.map((r) => r.name).sort()).toEqual(a.files.map((f: { path: string }) => f.path).sort())
    const detail = await bodyOf(await api('GET', '/v1/models/vad'))
    expect(detail.versions[0]).not.toHaveProperty('sigstoreBundle')
    // An unsigned version has a null bundle and no bundle in its assignment.
    await api('POST', '/v1/models/vad/versions', { body: { files: [model] } })
    expect((await bodyOf(await api('GET', '/v1/models/vad/versions/2'))).sigstoreBundle).toBeNull()
  })

  it('a bundle of another key is stored: only devices hold the keys they trust', async () => {
    await createModel('vad')
    const file = await upload('model.onnx', new Uint8Array([9]))
    const res = await api('POST', '/v1/models/vad/versions', {
      body: { files: [file], sigstoreBundle: await sign([file], otherKey) },
    })
    expect(res.status).toBe(201)
  })

  it('refuses a bundle that does not sign every file with its digest, or is not a model signing bundle', async () => {
    await createModel('vad')
    const file = await upload('model.onnx', new Uint8Array([1, 2, 3]))
    const other = await upload('model.onnx', new Uint8Array([3, 2, 1]))
    const extra = await upload('extra.bin', new Uint8Array([7]))
    const before = await snapshot()
    const cases: [string, unknown, { path: string; sha256: string; size: number }[], string, RegExp][] = [
      ['other bytes under the path', await sign([other]), [file], '/sigstoreBundle/dsseEnvelope/payload', /has sha256/],
      [
        'a file left out',
        await sign([file]),
        [file, extra],
        '/sigstoreBundle/dsseEnvelope/payload',
        /extra\.bin is not/,
      ],
      [
        'a certificate bundle',
        { ...(await sign([file])), verificationMaterial: { certificate: { rawBytes: 'AAAA' } } },
        [file],
        '/sigstoreBundle/verificationMaterial',
        /certificate/,
      ],
      [
        'another media type',
        { ...(await sign([file])), mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1' },
        [file],
        '/sigstoreBundle/mediaType',
        /mediaType/,
      ],
    ]
    for (const [name, bundle, files, pointer, message] of cases) {
      const res = await api('POST', '/v1/models/vad/versions', { body: { files, sigstoreBundle: bundle } })
      expect(res.status, name).toBe(400)
      const { error } = await bodyOf(res)
      expect(error.code, name).toBe('signature_error')
      expect(error.pointer, name).toBe(pointer)
      expect(error.message, name).toMatch(message)
    }
    // Not even a bundle's shape: the schema refuses it first.
    const shapeless = await api('POST', '/v1/models/vad/versions', {
      body: { files: [file], sigstoreBundle: { mediaType: 'x' } },
    })
    expect(shapeless.status).toBe(400)
    expect((await bodyOf(shapeless)).error.code).toBe('validation_failed')
    expect(await snapshot()).toBe(before)
  })
})
