/**
 * @module
 * Hugging Face model folders (format `hf-onnx`) in the registry: a hub layout publishes with every
 * file listed by role and weight type, in the manifest and in what devices are assigned; a folder
 * that is not a hub layout is refused with `not_hf_layout` and changes nothing.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { Assignment } from '../../core/formats/assignment.ts'
import { Manifest } from '../../core/formats/registry.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, createModel, resetState, snapshot, upload } from './api.ts'

const rand = seededRandom(15)
const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

beforeEach(resetState)

/** Uploads a file per path (JSON for .json paths, random bytes otherwise). */
async function folder(paths: string[]) {
  const files = []
  for (const p of paths) files.push(await upload(p, p.endsWith('.json') ? json({ path: p }) : bytes(64 + files.length)))
  return files
}

describe('hf-onnx versions', () => {
  it('lists a split, multi-dtype hub folder by role and dtype, in the manifest and the assignment', async () => {
    await createModel('whisper-tiny', { format: 'hf-onnx', task: 'automatic-speech-recognition' })
    const files = await folder([
      'config.json',
      'generation_config.json',
      'preprocessor_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'onnx/encoder_model.onnx',
      'onnx/encoder_model_fp16.onnx',
      'onnx/encoder_model_q4f16.onnx',
      'onnx/decoder_model_merged.onnx',
      'onnx/decoder_model_merged.onnx_data',
      'onnx/decoder_model_merged_quantized.onnx',
      'onnx/decoder_model_merged_bnb4.onnx',
      'onnx/decoder_model_merged_int8.onnx',
      'onnx/decoder_model_merged_uint8.onnx',
      'onnx/decoder_model_merged_q4.onnx',
      'onnx/decoder_model_merged_q4.onnx_data',
      'onnx/decoder_model_merged_q4.onnx_data_1',
    ])
    const res = await api('POST', '/v1/models/whisper-tiny/versions', { body: { files } })
    expect(res.status).toBe(201)
    const manifest = Manifest.parse(await bodyOf(res))
    expect(manifest.format).toBe('hf-onnx')
    const byPath = Object.fromEntries(manifest.files.map((f) => [f.path, [f.role, f.dtype]]))
    expect(byPath).toEqual({
      'config.json': ['config', undefined],
      'generation_config.json': ['generation-config', undefined],
      'preprocessor_config.json': ['preprocessor-config', undefined],
      'tokenizer.json': ['tokenizer', undefined],
      'tokenizer_config.json': ['tokenizer-config', undefined],
      'onnx/encoder_model.onnx': ['onnx', 'fp32'],
      'onnx/encoder_model_fp16.onnx': ['onnx', 'fp16'],
      'onnx/encoder_model_q4f16.onnx': ['onnx', 'q4f16'],
      'onnx/decoder_model_merged.onnx': ['onnx', 'fp32'],
      'onnx/decoder_model_merged.onnx_data': ['onnx-data', 'fp32'],
      'onnx/decoder_model_merged_quantized.onnx': ['onnx', 'q8'],
      'onnx/decoder_model_merged_bnb4.onnx': ['onnx', 'bnb4'],
      'onnx/decoder_model_merged_int8.onnx': ['onnx', 'int8'],
      'onnx/decoder_model_merged_uint8.onnx': ['onnx', 'uint8'],
      'onnx/decoder_model_merged_q4.onnx': ['onnx', 'q4'],
      'onnx/decoder_model_merged_q4.onnx_data': ['onnx-data', 'q4'],
      'onnx/decoder_model_merged_q4.onnx_data_1': ['onnx-data', 'q4'],
    })
    // The same listing comes back on a read and reaches devices.
    expect(Manifest.parse(await bodyOf(await api('GET', '/v1/models/whisper-tiny/versions/1')))).toEqual(manifest)
    await api('PUT', '/v1/models/whisper-tiny/aliases/production', { body: { version: 1 } })
    const key = (await bodyOf(await api('POST', '/v1/tokens', { body: { name: 'web', scopes: ['device'] } }))).token
    const assigned = await api('GET', '/v1/assign/whisper-tiny?device=dev_0123456789abcdef', {
      token: null,
      headers: { 'X-Edgefleet-Key': key },
    })
    expect(assigned.status).toBe(200)
    const a = Assignment.parse(await bodyOf(assigned))
    expect(a.format).toBe('hf-onnx')
    expect(a.files.map(({ url: _url, ...f }) => f)).toEqual(manifest.files.map(({ url: _url, ...f }) => f))
  })

  it.each([
    ['a file transformers.js never reads', ['config.json', 'onnx/model.onnx', 'pytorch_model.bin'], '/files/2/path'],
    ['no config.json', ['tokenizer.json', 'onnx/model.onnx'], '/files'],
    ['no ONNX graph', ['config.json', 'tokenizer.json'], '/files'],
    ['a graph outside onnx/', ['config.json', 'model.onnx'], '/files/1/path'],
    [
      'external data without its graph',
      ['config.json', 'onnx/model.onnx', 'onnx/model_fp16.onnx_data'],
      '/files/2/path',
    ],
  ])(
    'refuses a folder that is not a hub layout (%s) with not_hf_layout, changing nothing',
    async (_name, paths, pointer) => {
      await createModel('tiny-bert', { format: 'hf-onnx' })
      const files = await folder(paths)
      const before = await snapshot()
      const res = await api('POST', '/v1/models/tiny-bert/versions', { body: { files } })
      expect(res.status).toBe(400)
      expect((await bodyOf(res)).error).toMatchObject({ code: 'not_hf_layout', pointer })
      expect(await snapshot()).toBe(before)
    },
  )

  it('keeps roles off the files of other formats', async () => {
    await createModel('vad')
    const files = await folder(['model.onnx'])
    const manifest = Manifest.parse(await bodyOf(await api('POST', '/v1/models/vad/versions', { body: { files } })))
    expect(manifest.files[0]).not.toHaveProperty('role')
    expect(manifest.files[0]).not.toHaveProperty('dtype')
  })
})
