/**
 * @module
 * Hugging Face model folders on the publishing side: the hub layout's file names read as roles and
 * weight types (core/registry/hf-layout.ts), and `edgefleet publish <model> <folder>` sending the
 * files transformers.js reads, as an `hf-onnx` model, leaving the rest out and saying so.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { HfDtype, HfFileRole } from '../../core/formats/hf.ts'
import { hfFileOf, hfLayoutProblem, HF_DTYPE_SUFFIX } from '../../core/registry/hf-layout.ts'
import { FakeEdge, runCli, useFakeEdge } from '../helpers/fake-edge.ts'

const fixture = new URL('../fixtures/hf-tiny-bert/', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-hf-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('hfFileOf: a hub file name says its role and weight type', () => {
  it.each(
    (Object.entries(HF_DTYPE_SUFFIX) as [HfDtype, string][]).flatMap(([dtype, suffix]) => [
      [`onnx/model${suffix}.onnx`, 'onnx', 'model', dtype],
      [`onnx/decoder_model_merged${suffix}.onnx_data`, 'onnx-data', 'decoder_model_merged', dtype],
      [`onnx/encoder_model${suffix}.onnx_data_2`, 'onnx-data', 'encoder_model', dtype],
    ]),
  )('%s is %s of %s in %s', (path, role, component, dtype) => {
    expect(hfFileOf(path)).toEqual({ role, component, dtype })
  })

  it('knows the root JSON files and nothing else', () => {
    expect(hfFileOf('config.json')).toEqual({ role: 'config' })
    expect(hfFileOf('generation_config.json')).toEqual({ role: 'generation-config' })
    for (const p of ['README.md', 'vocab.txt', 'model.onnx', 'onnx/sub/model.onnx', 'onnx/model.bin'])
      expect(hfFileOf(p)).toBeNull()
    // A bare suffix is a component's name, not a weight type of nothing.
    expect(hfFileOf('onnx/_q4.onnx')).toEqual({ role: 'onnx', component: '_q4', dtype: 'fp32' })
  })

  it('every role and dtype the schema names is one the SDK check accepts', async () => {
    const { readAssignment } = await import('../../client/assignment-check.ts')
    const file = { path: 'config.json', url: 'https://e/x', sha256: 'a'.repeat(64), size: 1 }
    const base = {
      model: 'm',
      version: 1,
      role: 'primary',
      format: 'hf-onnx',
      telemetry: { sampleRate: 1, windowSeconds: 60, flushSeconds: 30 },
      ttlSeconds: 30,
    }
    for (const role of HfFileRole.options)
      for (const dtype of HfDtype.options)
        expect(() => readAssignment({ ...base, files: [{ ...file, role, dtype }] })).not.toThrow()
  })

  it('a layout problem is reported as not_hf_layout', () => {
    expect(hfLayoutProblem([{ path: 'config.json' }])).toMatchObject({ code: 'not_hf_layout', pointer: '/files' })
    expect(hfLayoutProblem([{ path: 'config.json' }, { path: 'onnx/model.onnx' }])).toBeNull()
  })
})

let edge: FakeEdge
beforeEach(() => {
  edge = new FakeEdge()
  return useFakeEdge(edge)
})

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a request body read for assertions
function versionBody(): any {
  const post = edge.requests.find((r) => r.method === 'POST' && r.path.endsWith('/versions'))!
  return JSON.parse(new TextDecoder().decode(post.body!))
}

describe('edgefleet publish <model> <hub folder>', () => {
  it('publishes the files transformers.js reads as an hf-onnx model and names the ones left out', async () => {
    const folder = join(dir, 'tiny-bert')
    cpSync(fixture, folder, { recursive: true })
    writeFileSync(join(folder, 'README.md'), '# tiny bert\n')
    writeFileSync(join(folder, 'vocab.txt'), 'a\nb\n')
    mkdirSync(join(folder, '.git'))
    writeFileSync(join(folder, '.git', 'HEAD'), 'ref: main\n')
    const r = await runCli('publish', 'tiny-bert', folder)
    expect(r.code).toBe(0)
    expect(r.out).toContain('left out 3 files transformers.js does not read: README.md, expected.json, vocab.txt')
    const created = edge.requests.find((q) => q.method === 'POST' && q.path === '/v1/models')!
    expect(JSON.parse(new TextDecoder().decode(created.body!))).toMatchObject({ name: 'tiny-bert', format: 'hf-onnx' })
    expect(versionBody().files.map((f: { path: string }) => f.path)).toEqual([
      'config.json',
      'onnx/model.onnx',
      'onnx/model_quantized.onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ])
  })

  it('refuses a folder with a config.json but no ONNX graph before uploading anything', async () => {
    const folder = join(dir, 'no-graph')
    mkdirSync(folder)
    cpSync(join(fixture, 'config.json'), join(folder, 'config.json'))
    const r = await runCli('publish', 'no-graph', folder)
    expect(r.code).not.toBe(0)
    expect(r.err).toContain('at least one onnx/<name>.onnx graph')
    expect(edge.requests.filter((q) => q.method === 'PUT')).toEqual([])
  })
})
