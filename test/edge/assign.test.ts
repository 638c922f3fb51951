import { beforeEach, describe, expect, it } from 'vitest'
import { Assignment } from '../../core/formats/assignment.ts'
import { api, bodyOf, createModel, resetState, upload } from './api.ts'

let key: string

beforeEach(async () => {
  await resetState()
  key = (await bodyOf(await api('POST', '/v1/tokens', { body: { name: 'web', scopes: ['device'] } }))).token
})

const device = 'dev_0123456789abcdef'

describe('GET /v1/assign/:model', () => {
  it('serves the production version with files, ttl and an ETag, and 304s when unchanged', async () => {
    await createModel('vad')
    const file = await upload('model.onnx', new Uint8Array([7, 7, 7]))
    await api('POST', '/v1/models/vad/versions', { body: { files: [file] } })
    await api('PUT', '/v1/models/vad/aliases/production', { body: { version: 1 } })
    const res = await api('GET', `/v1/assign/vad?device=${device}&caps=webgpu:0,cores:4`, {
      token: null,
      headers: { 'X-Edgefleet-Key': key },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('Cache-Control')).toBe('no-cache')
    const a = Assignment.parse(await bodyOf(res))
    expect(a).toMatchObject({ model: 'vad', version: 1, role: 'primary', format: 'onnx', ttlSeconds: 30 })
    expect(a.files[0]).toEqual({ ...file, url: `http://edge.test/v1/artifacts/${file.sha256}` })
    const etag = res.headers.get('ETag')!
    const again = await api('GET', `/v1/assign/vad?device=${device}`, {
      token: null,
      headers: { 'X-Edgefleet-Key': key, 'If-None-Match': etag },
    })
    expect(again.status).toBe(304)

    // Moving production changes the answer and its ETag.
    await api('POST', '/v1/models/vad/versions', { body: { files: [file] } })
    await api('PUT', '/v1/models/vad/aliases/production', { body: { version: 2 } })
    const moved = await api('GET', `/v1/assign/vad?device=${device}`, {
      token: null,
      headers: { 'X-Edgefleet-Key': key, 'If-None-Match': etag },
    })
    expect(moved.status).toBe(200)
    expect((await bodyOf(moved)).version).toBe(2)
  })

  it('404s an unknown model or one without production, and 400s a bad device id', async () => {
    const h = { 'X-Edgefleet-Key': key }
    expect((await api('GET', `/v1/assign/nope?device=${device}`, { token: null, headers: h })).status).toBe(404)
    await createModel('fresh')
    const none = await api('GET', `/v1/assign/fresh?device=${device}`, { token: null, headers: h })
    expect(none.status).toBe(404)
    expect((await bodyOf(none)).error.message).toContain('no production version')
    const bad = await api('GET', '/v1/assign/fresh?device=short', { token: null, headers: h })
    expect(bad.status).toBe(400)
    expect((await bodyOf(bad)).error.code).toBe('validation_failed')
  })
})
