import { beforeEach, describe, expect, it } from 'vitest'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, createModel, resetState, sha256, snapshot, upload } from './api.ts'

const rand = seededRandom(42)
const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))

const tabular = {
  kind: 'tabular',
  features: [
    { name: 'temp_max', type: 'numeric', transform: { kind: 'standardize', mean: 16, std: 7 } },
    { name: 'weather', type: 'categorical', categories: ['sun', 'rain'] },
  ],
  output: { kind: 'classes', labels: ['sun', 'rain'] },
}
const profile = {
  v: 1,
  rows: 4,
  features: {
    temp_max: {
      type: 'numeric',
      edges: [10, 20],
      counts: [1, 2, 1],
      n: 4,
      missing: 0,
      mean: 15,
      std: 5,
      min: 5,
      max: 25,
    },
    weather: { type: 'categorical', categories: ['sun'], counts: [3, 1], n: 4, missing: 0 },
  },
}

beforeEach(resetState)

describe('models', () => {
  it('creates, lists and details a model; a duplicate is 409 and changes nothing', async () => {
    const res = await api('POST', '/v1/models', {
      body: { name: 'weather', format: 'onnx', task: 'classification', signature: tabular, description: 'd' },
    })
    expect(res.status).toBe(201)
    expect(await bodyOf(res)).toMatchObject({
      name: 'weather',
      format: 'onnx',
      task: 'classification',
      latestVersion: null,
      aliases: {},
      createdBy: 'admin',
    })
    const before = await snapshot()
    const dup = await api('POST', '/v1/models', { body: { name: 'weather', format: 'onnx' } })
    expect(dup.status).toBe(409)
    expect((await bodyOf(dup)).error).toMatchObject({ code: 'conflict', pointer: '/name' })
    expect(await snapshot()).toBe(before)
    const list = await bodyOf(await api('GET', '/v1/models'))
    expect(list.models.map((m: any) => m.name)).toEqual(['weather'])
    const detail = await bodyOf(await api('GET', '/v1/models/weather'))
    expect(detail).toMatchObject({ name: 'weather', versions: [], rollout: null })
  })

  it('lists models by name in pages: next is the last name while more follow, null on the last page', async () => {
    const names = ['m-05', 'm-01', 'm-04', 'm-02', 'm-03']
    for (const name of names) await createModel(name)
    const seen: string[] = []
    let after: string | null = null
    let pages = 0
    do {
      const page: any = await bodyOf(await api('GET', `/v1/models?limit=2${after === null ? '' : `&after=${after}`}`))
      expect(page.models.length).toBeLessThanOrEqual(2)
      seen.push(...page.models.map((m: any) => m.name))
      expect(page.hasMore).toBe(page.next !== null)
      after = page.next
      pages++
    } while (after !== null)
    expect(seen).toEqual([...names].sort())
    expect(pages).toBe(3)
    const all = await bodyOf(await api('GET', '/v1/models'))
    expect(all).toMatchObject({ next: null, hasMore: false })
    expect(all.models).toHaveLength(5)
    for (const q of ['limit=0', 'limit=1001', 'limit=01', 'after=Bad_Name']) {
      const res = await api('GET', `/v1/models?${q}`)
      expect(res.status, q).toBe(400)
      expect((await bodyOf(res)).error.code, q).toBe('validation_failed')
    }
  })

  it.each([
    [{ name: 'Bad_Name', format: 'onnx' }, '/name'],
    [{ name: 'x'.repeat(65), format: 'onnx' }, '/name'],
    [{ name: 'ok', format: 'pytorch' }, '/format'],
    [{ name: 'ok', format: 'onnx', extra: 1 }, ''],
    [
      { name: 'ok', format: 'onnx', signature: { kind: 'tabular', features: [], output: { kind: 'regression' } } },
      '/signature/features',
    ],
  ])('refuses %j with 400 and a pointer', async (body, pointer) => {
    const before = await snapshot()
    const res = await api('POST', '/v1/models', { body })
    expect(res.status).toBe(400)
    const err = (await bodyOf(res)).error
    expect(err.code).toBe('validation_failed')
    expect(err.pointer).toBe(pointer)
    expect(await snapshot()).toBe(before)
  })

  it('answers malformed JSON, a wrong media type and an oversized body with stable codes', async () => {
    const before = await snapshot()
    const bad = await api('POST', '/v1/models', {
      raw: '{"name": "x",',
      headers: { 'Content-Type': 'application/json' },
    })
    expect(bad.status).toBe(400)
    expect((await bodyOf(bad)).error.code).toBe('invalid_json')
    const text = await api('POST', '/v1/models', {
      raw: '{"name":"x","format":"onnx"}',
      headers: { 'Content-Type': 'text/csv' },
    })
    expect([400, 415]).toContain(text.status)
    expect((await bodyOf(text)).error.code).toMatch(/unsupported_media_type|validation_failed/)
    const huge = await api('POST', '/v1/models', {
      body: { name: 'big', format: 'onnx', description: 'x'.repeat(1_100_000) },
    })
    expect(huge.status).toBe(413)
    expect((await bodyOf(huge)).error.code).toBe('too_large')
    expect(await snapshot()).toBe(before)
  })

  it('404s an unknown model', async () => {
    const res = await api('GET', '/v1/models/nope')
    expect(res.status).toBe(404)
    expect((await bodyOf(res)).error.code).toBe('not_found')
  })
})

describe('artifacts', () => {
  it('stores bytes only under their hash, re-uploads cheaply, and serves them with immutable caching', async () => {
    const data = bytes(300_000)
    const hash = await sha256(data)
    const put = await api('PUT', `/v1/artifacts/${hash}`, {
      raw: data,
      headers: { 'Content-Length': String(data.length), 'Content-Type': 'application/octet-stream' },
    })
    expect(put.status).toBe(201)
    expect(await bodyOf(put)).toEqual({ sha256: hash, size: data.length, created: true })
    const again = await api('PUT', `/v1/artifacts/${hash}`, {
      raw: data,
      headers: { 'Content-Length': String(data.length), 'Content-Type': 'application/octet-stream' },
    })
    expect(again.status).toBe(200)
    expect((await bodyOf(again)).created).toBe(false)

    const get = await api('GET', `/v1/artifacts/${hash}`)
    expect(get.status).toBe(200)
    expect(get.headers.get('ETag')).toBe(`"${hash}"`)
    expect(get.headers.get('Cache-Control')).toContain('immutable')
    expect(get.headers.get('Accept-Ranges')).toBe('bytes')
    expect(get.headers.get('Cross-Origin-Resource-Policy')).toBe('cross-origin')
    expect(new Uint8Array(await get.arrayBuffer())).toEqual(data)

    const notModified = await api('GET', `/v1/artifacts/${hash}`, { headers: { 'If-None-Match': `"${hash}"` } })
    expect(notModified.status).toBe(304)
  })

  it('answers single byte ranges with 206 and impossible ones with 416', async () => {
    const data = bytes(10_000)
    const { sha256: hash } = await upload('f.bin', data)
    const mid = await api('GET', `/v1/artifacts/${hash}`, { headers: { Range: 'bytes=100-199' } })
    expect(mid.status).toBe(206)
    expect(mid.headers.get('Content-Range')).toBe('bytes 100-199/10000')
    expect(new Uint8Array(await mid.arrayBuffer())).toEqual(data.slice(100, 200))
    const open = await api('GET', `/v1/artifacts/${hash}`, { headers: { Range: 'bytes=9990-' } })
    expect(open.status).toBe(206)
    expect(new Uint8Array(await open.arrayBuffer())).toEqual(data.slice(9990))
    const suffix = await api('GET', `/v1/artifacts/${hash}`, { headers: { Range: 'bytes=-5' } })
    expect(suffix.headers.get('Content-Range')).toBe('bytes 9995-9999/10000')
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(data.slice(9995))
    const beyond = await api('GET', `/v1/artifacts/${hash}`, { headers: { Range: 'bytes=10000-' } })
    expect(beyond.status).toBe(416)
    expect(beyond.headers.get('Content-Range')).toBe('bytes */10000')
    expect((await bodyOf(beyond)).error.code).toBe('range_not_satisfiable')
  })

  it('refuses tampered bytes, a missing length, a bad hash and an oversized upload, storing nothing', async () => {
    const data = bytes(5000)
    const hash = await sha256(data)
    const before = await snapshot()
    const tampered = data.slice()
    tampered[1234] ^= 0xff
    const res = await api('PUT', `/v1/artifacts/${hash}`, {
      raw: tampered,
      headers: { 'Content-Length': String(tampered.length), 'Content-Type': 'application/octet-stream' },
    })
    expect(res.status).toBe(400)
    expect((await bodyOf(res)).error.code).toBe('hash_mismatch')
    const stream = new ReadableStream({ start: (c) => (c.enqueue(data), c.close()) })
    const noLength = await api('PUT', `/v1/artifacts/${hash}`, {
      raw: stream,
      headers: { 'Content-Type': 'application/octet-stream' },
    })
    expect(noLength.status).toBe(411)
    expect((await bodyOf(noLength)).error.code).toBe('length_required')
    const badHash = await api('PUT', '/v1/artifacts/XYZ', {
      raw: data,
      headers: { 'Content-Length': '5000', 'Content-Type': 'application/octet-stream' },
    })
    expect(badHash.status).toBe(400)
    expect((await bodyOf(badHash)).error.code).toBe('validation_failed')
    // The declared length is checked before a byte is read.
    const tooBig = await api('PUT', `/v1/artifacts/${hash}`, {
      raw: data,
      headers: { 'Content-Length': String(200 * 1024 * 1024), 'Content-Type': 'application/octet-stream' },
    })
    expect(tooBig.status).toBe(413)
    expect((await bodyOf(tooBig)).error.code).toBe('too_large')
    expect(await snapshot()).toBe(before)
    expect((await api('GET', `/v1/artifacts/${hash}`)).status).toBe(404)
  })
})

describe('versions, lineage and aliases', () => {
  it('publishes immutable numbered versions with lineage and the manifest', async () => {
    await createModel('weather', { signature: tabular })
    const file = await upload('model.onnx', bytes(2048))
    const res = await api('POST', '/v1/models/weather/versions', {
      body: {
        files: [file],
        profile,
        metrics: { accuracy: 0.91 },
        lineage: { dataHash: 'sha256:abc', codeCommit: 'deadbeef' },
      },
    })
    expect(res.status).toBe(201)
    const m = await bodyOf(res)
    expect(m).toMatchObject({
      model: 'weather',
      version: 1,
      format: 'onnx',
      metrics: { accuracy: 0.91 },
      deprecated: false,
      aliases: [],
    })
    expect(m.files).toEqual([{ ...file, url: `http://edge.test/v1/artifacts/${file.sha256}` }])
    expect(m.lineage).toMatchObject({ dataHash: 'sha256:abc', codeCommit: 'deadbeef', createdBy: 'admin' })
    expect(m.signature).toMatchObject({ kind: 'tabular' })
    const v2 = await bodyOf(
      await api('POST', '/v1/models/weather/versions', { body: { files: [file], profile, lineage: { parent: 1 } } }),
    )
    expect(v2.version).toBe(2)
    expect(v2.lineage.parent).toBe(1)
    const got = await bodyOf(await api('GET', '/v1/models/weather/versions/1'))
    expect(got).toEqual(m)
    const detail = await bodyOf(await api('GET', '/v1/models/weather'))
    expect(detail.latestVersion).toBe(2)
    expect(detail.versions.map((v: any) => [v.version, v.parent])).toEqual([
      [2, 1],
      [1, null],
    ])
  })

  it('gives concurrent publishes distinct consecutive numbers', async () => {
    await createModel('race')
    const file = await upload('m.onnx', bytes(100))
    const results = await Promise.all(
      Array.from({ length: 8 }, () => api('POST', '/v1/models/race/versions', { body: { files: [file] } })),
    )
    const numbers = await Promise.all(results.map(async (r) => (expect(r.status).toBe(201), (await bodyOf(r)).version)))
    expect(numbers.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    const { events } = await bodyOf(await api('GET', '/v1/events?model=race&type=version.published'))
    expect(events.map((e: any) => e.details.version).sort((a: number, b: number) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8,
    ])
  })

  it.each([
    [
      'a missing artifact',
      (f: any) => ({ files: [{ ...f, sha256: 'a'.repeat(64) }] }),
      'artifact_missing',
      '/files/0/sha256',
    ],
    ['a wrong size', (f: any) => ({ files: [{ ...f, size: f.size + 1 }] }), 'validation_failed', '/files/0/size'],
    [
      'path traversal',
      (f: any) => ({ files: [{ ...f, path: '../etc/passwd.onnx' }] }),
      'validation_failed',
      '/files/0/path',
    ],
    [
      'an absolute path',
      (f: any) => ({ files: [{ ...f, path: '/model.onnx' }] }),
      'validation_failed',
      '/files/0/path',
    ],
    ['no .onnx file', (f: any) => ({ files: [{ ...f, path: 'weights.bin' }] }), 'validation_failed', '/files'],
    ['duplicate paths', (f: any) => ({ files: [f, f] }), 'validation_failed', '/files'],
    ['an unknown parent', (f: any) => ({ files: [f], lineage: { parent: 9 } }), 'validation_failed', '/lineage/parent'],
    ['an unknown field', (f: any) => ({ files: [f], owner: 'me' }), 'validation_failed', ''],
    [
      'a profile missing a feature',
      (f: any) => ({ files: [f], profile: { ...profile, features: { temp_max: profile.features.temp_max } } }),
      'validation_failed',
      '/profile/features/weather',
    ],
    [
      'a profile of the wrong type',
      (f: any) => ({
        files: [f],
        profile: { ...profile, features: { ...profile.features, weather: profile.features.temp_max } },
      }),
      'validation_failed',
      '/profile/features/weather/type',
    ],
    [
      'an inconsistent profile',
      (f: any) => ({
        files: [f],
        profile: { ...profile, features: { ...profile.features, temp_max: { ...profile.features.temp_max, n: 5 } } },
      }),
      'validation_failed',
      '/profile/features/temp_max',
    ],
  ])('refuses %s and changes nothing', async (_name, make, code, pointer) => {
    await createModel('weather', { signature: tabular })
    const file = await upload('model.onnx', bytes(64))
    const before = await snapshot()
    const res = await api('POST', '/v1/models/weather/versions', { body: make(file) })
    expect(res.status).toBe(400)
    const err = (await bodyOf(res)).error
    expect(err.code).toBe(code)
    expect(err.pointer?.startsWith(pointer)).toBe(true)
    expect(await snapshot()).toBe(before)
  })

  it('404s a version of a model that does not exist, and a missing version', async () => {
    const res = await api('POST', '/v1/models/ghost/versions', {
      body: { files: [{ path: 'm.onnx', sha256: 'b'.repeat(64), size: 1 }] },
    })
    expect(res.status).toBe(404)
    expect((await bodyOf(res)).error.code).toBe('not_found')
    await createModel('weather')
    expect((await api('GET', '/v1/models/weather/versions/3')).status).toBe(404)
  })

  it('a published version cannot be overwritten: no route replaces it and a PATCH takes only deprecation', async () => {
    await createModel('frozen')
    const file = await upload('m.onnx', bytes(64))
    expect((await api('POST', '/v1/models/frozen/versions', { body: { files: [file] } })).status).toBe(201)
    const before = await snapshot()
    const other = await upload('n.onnx', bytes(64))
    const attempts = [
      await api('PUT', '/v1/models/frozen/versions/1', { body: { files: [other] } }),
      await api('POST', '/v1/models/frozen/versions/1', { body: { files: [other] } }),
      await api('PATCH', '/v1/models/frozen/versions/1', { body: { files: [other] } }),
      await api('PATCH', '/v1/models/frozen/versions/1', { body: { deprecated: true, metrics: { acc: 1 } } }),
    ]
    expect(attempts.map((r) => r.status)).toEqual([404, 404, 400, 400])
    for (const r of attempts) expect((await bodyOf(r)).error.code).toMatch(/^[a-z_]+$/)
    // Only the second artifact upload changed anything.
    const after = JSON.parse(await snapshot())
    expect(JSON.stringify(after.tables)).toBe(JSON.stringify(JSON.parse(before).tables))
    expect((await bodyOf(await api('GET', '/v1/models/frozen/versions/1'))).files).toEqual([
      { ...file, url: `http://edge.test/v1/artifacts/${file.sha256}` },
    ])
  })

  it('refuses a version whose declared interface breaks the latest one, unless allowInterfaceChange', async () => {
    await createModel('iface', { signature: tabular })
    const file = await upload('model.onnx', bytes(256))
    const io = (width: number, dtype = 'float32') => ({
      inputs: [{ name: 'x', dtype, shape: ['batch', width] }],
      outputs: [{ name: 'probs', dtype: 'float32', shape: ['batch', 3] }],
    })
    const publish = (body: Record<string, unknown>) =>
      api('POST', '/v1/models/iface/versions', { body: { files: [file], ...body } })
    expect((await publish({ interface: io(4) })).status).toBe(201)
    // Compatible: the same names, types and shapes (a dynamic dim may meet any size).
    expect((await publish({ interface: io(4) })).status).toBe(201)
    const before = await snapshot()
    const wider = await publish({ interface: io(6) })
    expect(wider.status).toBe(409)
    const error = (await bodyOf(wider)).error
    expect(error).toMatchObject({ code: 'interface_mismatch', pointer: '/interface' })
    expect(error.message).toContain('v2: input x: shape [batch, 4] became [batch, 6]')
    const retyped = await publish({ interface: io(4, 'int64') })
    expect((await bodyOf(retyped)).error.message).toContain('input x: float32 became int64')
    const fewerFeatures = await publish({
      interface: io(4),
      signature: { ...tabular, features: tabular.features.slice(1) },
    })
    expect((await bodyOf(fewerFeatures)).error.message).toContain(`feature ${tabular.features[0].name} is gone`)
    expect(await snapshot()).toBe(before)
    const allowed = await publish({ interface: io(6), allowInterfaceChange: true })
    expect(allowed.status).toBe(201)
    expect((await bodyOf(allowed)).interface).toEqual(io(6))
  })

  it('moves aliases with an audited before/after, and never onto a deprecated version', async () => {
    await createModel('weather')
    const file = await upload('m.onnx', bytes(10))
    for (let i = 0; i < 3; i++) await api('POST', '/v1/models/weather/versions', { body: { files: [file] } })
    const first = await bodyOf(await api('PUT', '/v1/models/weather/aliases/production', { body: { version: 1 } }))
    expect(first).toEqual({ model: 'weather', alias: 'production', version: 1, previous: null })
    const second = await bodyOf(await api('PUT', '/v1/models/weather/aliases/production', { body: { version: 2 } }))
    expect(second.previous).toBe(1)
    const { events } = await bodyOf(await api('GET', '/v1/events?model=weather&type=alias.moved'))
    expect(events.map((e: any) => [e.details.alias, e.details.from, e.details.to, e.actor])).toEqual([
      ['production', null, 1, 'admin'],
      ['production', 1, 2, 'admin'],
    ])

    // A deprecated version cannot be aliased; an aliased version cannot be deprecated.
    const blocked = await api('PATCH', '/v1/models/weather/versions/2', { body: { deprecated: true } })
    expect(blocked.status).toBe(409)
    expect((await bodyOf(blocked)).error.code).toBe('conflict')
    const dep = await api('PATCH', '/v1/models/weather/versions/3', { body: { deprecated: true } })
    expect(dep.status).toBe(200)
    expect(await bodyOf(dep)).toMatchObject({ version: 3, deprecated: true })
    const before = await snapshot()
    const onto = await api('PUT', '/v1/models/weather/aliases/staging', { body: { version: 3 } })
    expect(onto.status).toBe(409)
    expect((await bodyOf(onto)).error).toMatchObject({ code: 'deprecated', pointer: '/version' })
    expect(await snapshot()).toBe(before)
    const again = await api('PATCH', '/v1/models/weather/versions/3', { body: { deprecated: true } })
    expect(again.status).toBe(200)
    expect(await snapshot()).toBe(before)
    expect((await api('PUT', '/v1/models/weather/aliases/Bad!', { body: { version: 1 } })).status).toBe(400)
  })
})

describe('events', () => {
  it('pages the audit trail with a cursor and filters by model and type', async () => {
    await createModel('a')
    await createModel('b')
    const file = await upload('m.onnx', bytes(10))
    for (let i = 0; i < 5; i++) await api('POST', '/v1/models/a/versions', { body: { files: [file] } })
    const all: any[] = []
    let after = ''
    for (let pages = 0; pages < 10; pages++) {
      const page = await bodyOf(await api('GET', `/v1/events?limit=2${after}`))
      all.push(...page.events)
      if (!page.hasMore) break
      after = `&after=${page.next}`
    }
    expect(all.map((e) => e.type)).toEqual(['model.created', 'model.created', ...Array(5).fill('version.published')])
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length)
    const onlyB = await bodyOf(await api('GET', '/v1/events?model=b'))
    expect(onlyB.events.map((e: any) => e.type)).toEqual(['model.created'])
    const family = await bodyOf(await api('GET', '/v1/events?type=model.*'))
    expect(family.events).toHaveLength(2)
    expect((await api('GET', '/v1/events?after=abc')).status).toBe(400)
    expect((await api('GET', '/v1/events?limit=100000')).status).toBe(400)
  })
})

describe('artifact uploads by more than one publisher', () => {
  beforeEach(resetState)

  it('answers HEAD from metadata, and tells an If-None-Match: * upload that the bytes exist', async () => {
    const data = bytes(4096)
    const { sha256: hash } = await upload('x.bin', data)
    const head = await api('HEAD', `/v1/artifacts/${hash}`)
    expect(head.status).toBe(200)
    expect(head.headers.get('Content-Length')).toBe('4096')
    expect(await head.text()).toBe('')
    expect((await api('HEAD', `/v1/artifacts/${'0'.repeat(64)}`)).status).toBe(404)
    const again = await api('PUT', `/v1/artifacts/${hash}`, {
      raw: data,
      headers: { 'Content-Length': '4096', 'Content-Type': 'application/octet-stream', 'If-None-Match': '*' },
    })
    expect(again.status).toBe(412)
    expect((await bodyOf(again)).error.code).toBe('precondition_failed')
  })

  it('lets a registry:write token read what it publishes', async () => {
    const writer = (await bodyOf(await api('POST', '/v1/tokens', { body: { name: 'ci', scopes: ['registry:write'] } })))
      .token
    expect((await api('GET', '/v1/models', { token: writer })).status).toBe(200)
    expect((await api('GET', '/v1/events', { token: writer })).status).toBe(200)
    expect((await api('GET', '/v1/tokens', { token: writer })).status).toBe(403)
  })
})
