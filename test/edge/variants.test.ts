import { beforeEach, describe, expect, it } from 'vitest'
import { Assignment } from '../../core/formats/assignment.ts'
import { Manifest } from '../../core/formats/registry.ts'
import { api, bodyOf, createModel, resetState, snapshot, upload } from './api.ts'
import { startCanary } from './rollout-fixtures.ts'

let key: string
let files: { path: string; sha256: string; size: number }[]

const device = 'dev_0123456789abcdef'
const VARIANTS = [
  {
    name: 'fp16',
    files: ['model_fp16.onnx', 'labels.json'],
    requires: { webgpu: true, f16: true, backends: ['webgpu'] },
  },
  { name: 'q8', files: ['model_q8.onnx', 'labels.json'], requires: { minDeviceMemory: 4 } },
  { name: 'q4', files: ['model_q4.onnx', 'labels.json'] },
]

beforeEach(async () => {
  await resetState()
  key = (await bodyOf(await api('POST', '/v1/tokens', { body: { name: 'web', scopes: ['device'] } }))).token
  await createModel('vad')
  files = [
    await upload('model_fp16.onnx', new Uint8Array([1, 6])),
    await upload('model_q8.onnx', new Uint8Array([8])),
    await upload('model_q4.onnx', new Uint8Array([4])),
    await upload('labels.json', new TextEncoder().encode('["yes","no"]')),
  ]
})

async function publish(variants: unknown): Promise<Response> {
  return api('POST', '/v1/models/vad/versions', { body: { files, variants } })
}

async function assign(query: string, status = 200): Promise<any> {
  const res = await api('GET', `/v1/assign/vad?device=${device}&${query}`, {
    token: null,
    headers: { 'X-Edgefleet-Key': key },
  })
  expect(res.status, await res.clone().text()).toBe(status)
  return bodyOf(res)
}

const pathsOf = (a: { files: { path: string }[] }) => a.files.map((f) => f.path).sort()

describe('variants of a version', () => {
  it('are stored with the version and returned in its manifest, in publish order', async () => {
    const res = await publish(VARIANTS)
    expect(res.status).toBe(201)
    const published = Manifest.parse(await bodyOf(res))
    expect(published.variants).toEqual(VARIANTS)
    const read = Manifest.parse(await bodyOf(await api('GET', '/v1/models/vad/versions/1')))
    expect(read.variants).toEqual(VARIANTS)
    expect(read.files).toHaveLength(4)
  })

  it.each([
    [
      "a file that is not the version's",
      [{ name: 'a', files: ['nope.onnx'] }],
      '/variants/0/files/0',
      'not one of the version',
    ],
    [
      'a duplicate name',
      [
        { name: 'a', files: ['model_q8.onnx'], requires: { webgpu: true } },
        { name: 'a', files: ['model_q4.onnx'] },
      ],
      '/variants/1/name',
      'listed twice',
    ],
    [
      'a last variant with requires',
      [{ name: 'a', files: ['model_q8.onnx'], requires: { webgpu: true } }],
      '/variants/0/requires',
      'the default',
    ],
    [
      'a default before the last',
      [
        { name: 'a', files: ['model_q8.onnx'] },
        { name: 'b', files: ['model_q4.onnx'] },
      ],
      '/variants/0/requires',
      'unreachable',
    ],
    [
      'two model files in one variant',
      [{ name: 'a', files: ['model_q8.onnx', 'model_q4.onnx'] }],
      '/variants/0/files',
      'exactly one .onnx',
    ],
    [
      'an empty requires',
      [
        { name: 'a', files: ['model_q8.onnx'], requires: {} },
        { name: 'b', files: ['model_q4.onnx'] },
      ],
      '/variants/0/requires',
      'empty requires',
    ],
    [
      'an unknown backend',
      [
        { name: 'a', files: ['model_q8.onnx'], requires: { backends: ['metal'] } },
        { name: 'b', files: ['model_q4.onnx'] },
      ],
      '/variants/0/requires/backends/0',
      '',
    ],
    ['a bad name', [{ name: 'FP 16', files: ['model_q4.onnx'] }], '/variants/0/name', 'variant name'],
    [
      'an unknown rule',
      [
        { name: 'a', files: ['model_q8.onnx'], requires: { gpu: true } },
        { name: 'b', files: ['model_q4.onnx'] },
      ],
      '/variants/0/requires',
      '',
    ],
  ])('refuse %s with validation_failed at its pointer and store nothing', async (_, variants, pointer, text) => {
    const before = await snapshot()
    const res = await publish(variants)
    expect(res.status).toBe(400)
    const { error } = await bodyOf(res)
    expect(error.code).toBe('validation_failed')
    expect(error.pointer).toBe(pointer)
    expect(error.message).toContain(text)
    expect(await snapshot()).toBe(before)
  })
})

describe('GET /v1/assign/:model with variants', () => {
  beforeEach(async () => {
    expect((await publish(VARIANTS)).status).toBe(201)
    await api('PUT', '/v1/models/vad/aliases/production', { body: { version: 1 } })
  })

  it("gives each device the first variant it fits, with that variant's files only", async () => {
    const fp16 = Assignment.parse(await assign('caps=webgpu:1,f16:1,mem:8'))
    expect(fp16).toMatchObject({ version: 1, variant: 'fp16', backends: ['webgpu'] })
    expect(pathsOf(fp16)).toEqual(['labels.json', 'model_fp16.onnx'])
    const q8 = Assignment.parse(await assign('caps=webgpu:1,f16:0,mem:8'))
    expect(q8.variant).toBe('q8')
    expect(q8.backends).toBeUndefined()
    expect(pathsOf(q8)).toEqual(['labels.json', 'model_q8.onnx'])
    expect((await assign('caps=webgpu:0,mem:2')).variant).toBe('q4')
    // A device that reports nothing (an old SDK) fits only the default.
    const old = Assignment.parse(await assign('caps='))
    expect(old.variant).toBe('q4')
    expect(pathsOf(old)).toEqual(['labels.json', 'model_q4.onnx'])
  })

  it('gives a WebNN variant only to a device that reports navigator.ml (webnn:1)', async () => {
    const webnn = [
      { name: 'webnn', files: ['model_q8.onnx', 'labels.json'], requires: { backends: ['webnn'] } },
      { name: 'q4', files: ['model_q4.onnx', 'labels.json'] },
    ]
    expect((await publish(webnn)).status).toBe(201)
    await api('PUT', '/v1/models/vad/aliases/production', { body: { version: 2 } })
    const picked = Assignment.parse(await assign('caps=webgpu:0,webnn:1'))
    expect(picked).toMatchObject({ version: 2, variant: 'webnn', backends: ['webnn'] })
    expect(pathsOf(picked)).toEqual(['labels.json', 'model_q8.onnx'])
    for (const caps of ['webgpu:1,f16:1,mem:8', 'webgpu:0,webnn:0', 'webgpu:0,webnn:yes'])
      expect((await assign(`caps=${caps}`)).variant).toBe('q4')
    expect((await assign('caps=webgpu:0,webnn:1&exclude=2:webnn')).variant).toBe('q4')
  })

  it('skips the variants a device excluded for that version, and says no_variant when none is left', async () => {
    expect((await assign('caps=webgpu:1,f16:1,mem:8&exclude=1:fp16')).variant).toBe('q8')
    expect((await assign('caps=webgpu:1,f16:1,mem:8&exclude=1:fp16,1:q8')).variant).toBe('q4')
    // An exclusion for another version does not apply.
    expect((await assign('caps=webgpu:1,f16:1,mem:8&exclude=2:fp16')).variant).toBe('fp16')
    const none = await assign('caps=webgpu:0&exclude=1:q4', 409)
    expect(none.error.code).toBe('no_variant')
    expect(none.error.message).toContain('q4')
  })

  it('refuses a malformed exclude list with validation_failed', async () => {
    for (const bad of ['fp16', '1:FP16', '0:fp16', '1:fp16,', `${Array.from({ length: 17 }, () => '1:a').join(',')}`]) {
      const body = await assign(`caps=webgpu:0&exclude=${encodeURIComponent(bad)}`, 400)
      expect(body.error.code).toBe('validation_failed')
    }
  })

  it('gives different variants different ETags', async () => {
    const res = (caps: string) =>
      api('GET', `/v1/assign/vad?device=${device}&caps=${caps}`, { token: null, headers: { 'X-Edgefleet-Key': key } })
    const a = (await res('webgpu:1,f16:1,mem:8')).headers.get('ETag')
    const b = (await res('webgpu:0')).headers.get('ETag')
    expect(a).not.toBe(b)
  })

  it("applies a device's exclusions to a shadow-mode candidate's variant, and sends no shadow when none is left", async () => {
    expect((await publish(VARIANTS)).status).toBe(201)
    const r = await startCanary('vad', { candidate: 2, mode: 'shadow', steps: [{ percent: 100, minDevices: 1 }] })
    const caps = 'caps=webgpu:1,f16:1,mem:8'
    const first = Assignment.parse(await assign(caps))
    expect(first).toMatchObject({ version: 1, variant: 'fp16', rollout: { id: r.id, mode: 'shadow' } })
    expect(first.shadow).toMatchObject({ version: 2, variant: 'fp16' })
    // The device found v2's fp16 broken as a shadow: v2's q8 instead, v1's fp16 untouched.
    const next = Assignment.parse(await assign(`${caps}&exclude=2:fp16`))
    expect(next).toMatchObject({ version: 1, variant: 'fp16' })
    expect(next.shadow).toMatchObject({ version: 2, variant: 'q8' })
    expect(pathsOf(next.shadow!)).toEqual(['labels.json', 'model_q8.onnx'])
    // Every variant of v2 broken here: the primary alone, never no_variant.
    const alone = Assignment.parse(await assign(`${caps}&exclude=2:fp16,2:q8,2:q4`))
    expect(alone).toMatchObject({ version: 1, variant: 'fp16' })
    expect(alone.shadow).toBeUndefined()
    // ModelControl's state outlives resetState: end the rollout, or the next test would assign inside it.
    const back = await api('POST', `/v1/models/vad/rollouts/${r.id}/rollback`, { body: { reason: 'test over' } })
    expect(back.status).toBe(200)
  })

  it('leaves a version without variants exactly as before: every file, no variant field', async () => {
    expect((await api('POST', '/v1/models/vad/versions', { body: { files: [files[2]] } })).status).toBe(201)
    await api('PUT', '/v1/models/vad/aliases/production', { body: { version: 2 } })
    const a = await assign('caps=webgpu:1,f16:1,mem:8&exclude=2:q4')
    expect(a.version).toBe(2)
    expect('variant' in a).toBe(false)
    expect('backends' in a).toBe(false)
    expect(pathsOf(a)).toEqual(['model_q4.onnx'])
    const manifest = await bodyOf(await api('GET', '/v1/models/vad/versions/2'))
    expect('variants' in manifest).toBe(false)
  })
})
