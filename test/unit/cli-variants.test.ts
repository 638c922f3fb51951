// `edgefleet publish --variants`: the rules go with the version, and bad ones are refused before any upload.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeEdge, runCli, useFakeEdge } from '../helpers/fake-edge.ts'
import { linearClassifier } from '../helpers/onnx-model.ts'

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-variants-'))
const file = (name: string) => join(dir, name)
writeFileSync(file('model_fp16.onnx'), linearClassifier([1, 2, 3, 4], [0], 4))
writeFileSync(file('model_q8.onnx'), linearClassifier([1, 2, 3, 5], [0], 4))
const variants = [
  { name: 'fp16', files: ['model_fp16.onnx'], requires: { webgpu: true, f16: true, backends: ['webgpu'] } },
  { name: 'q8', files: ['model_q8.onnx'] },
]
writeFileSync(file('variants.json'), JSON.stringify(variants))
writeFileSync(file('no-default.json'), JSON.stringify([{ ...variants[0] }]))
writeFileSync(file('unknown-file.json'), JSON.stringify([{ name: 'q8', files: ['model_q4.onnx'] }]))
writeFileSync(file('bad-rule.json'), JSON.stringify([{ name: 'q8', files: ['model_q8.onnx'], requires: { gpu: 1 } }]))

afterAll(() => rmSync(dir, { recursive: true, force: true }))

let edge: FakeEdge
beforeEach(() => {
  edge = new FakeEdge()
  return useFakeEdge(edge)
})

describe('edgefleet publish --variants', () => {
  it('sends the variants with the version', async () => {
    const r = await runCli(
      'publish',
      'vad',
      file('model_fp16.onnx'),
      file('model_q8.onnx'),
      '--variants',
      file('variants.json'),
    )
    expect(r.code).toBe(0)
    expect(r.out).toContain('published vad v1 (2 files')
    const post = edge.requests.find((q) => q.method === 'POST' && q.path.endsWith('/versions'))!
    expect(JSON.parse(new TextDecoder().decode(post.body!)).variants).toEqual(variants)
  })

  it.each([
    ['no-default.json', 'the default'],
    ['unknown-file.json', "model_q4.onnx is not one of the version's files"],
    ['bad-rule.json', 'Unrecognized key'],
  ])('refuses %s before uploading anything', async (name, text) => {
    const r = await runCli('publish', 'vad', file('model_fp16.onnx'), file('model_q8.onnx'), '--variants', file(name))
    expect(r.code).toBe(1)
    expect(r.err).toContain('validation_failed')
    expect(r.err).toContain(text)
    expect(edge.artifacts.size).toBe(0)
  })
})
