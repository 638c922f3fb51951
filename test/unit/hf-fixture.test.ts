// The committed Hugging Face layout fixture (test/fixtures/hf-tiny-bert, made by
// scripts/make-hf-fixture.py): its files are what the hub layout names, and both ONNX dtypes give, in
// onnxruntime-web, on the token ids the generator's tokenizer produced, the logits onnxruntime
// (Python) gave when the files were made.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as ort from 'onnxruntime-web'
import { describe, expect, it } from 'vitest'

const dir = fileURLToPath(new URL('../fixtures/hf-tiny-bert/', import.meta.url))
const json = (name: string) => JSON.parse(readFileSync(dir + name, 'utf8')) as Record<string, unknown>

interface Probe {
  text: string
  input_ids: number[]
  torch: number[]
  fp32: number[]
  quantized: number[]
}
const expected = json('expected.json') as unknown as { labels: string[]; probes: Probe[] }

describe('the hf-tiny-bert fixture', () => {
  it('is a sequence classifier in the hub layout that transformers.js reads', () => {
    const config = json('config.json')
    expect(config.model_type).toBe('bert')
    expect(config['transformers.js_config']).toEqual({ dtype: 'fp32' })
    expect(Object.values(config.id2label as Record<string, string>)).toEqual(expected.labels)
    expect(json('tokenizer_config.json').tokenizer_class).toBe('BertTokenizer')
    const tokenizer = json('tokenizer.json') as { model: { type: string; vocab: Record<string, number> } }
    expect(tokenizer.model.type).toBe('WordPiece')
    expect(Object.keys(tokenizer.model.vocab).length).toBe(config.vocab_size)
    expect(expected.probes.length).toBeGreaterThanOrEqual(4)
  })

  for (const [dtype, file, tolerance] of [
    ['fp32', 'model.onnx', 1e-4],
    ['quantized', 'model_quantized.onnx', 1e-4],
  ] as const) {
    it(`onnx/${file} gives the generator's ${dtype} logits in onnxruntime-web`, async () => {
      const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(`${dir}onnx/${file}`)))
      expect([...session.inputNames].sort()).toEqual(['attention_mask', 'input_ids', 'token_type_ids'])
      try {
        for (const probe of expected.probes) {
          const n = probe.input_ids.length
          const ids = BigInt64Array.from(probe.input_ids, BigInt)
          const out = await session.run({
            input_ids: new ort.Tensor('int64', ids, [1, n]),
            attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
            token_type_ids: new ort.Tensor('int64', new BigInt64Array(n), [1, n]),
          })
          const logits = [...(out.logits.data as Float32Array)]
          expect(logits).toHaveLength(expected.labels.length)
          logits.forEach((v, i) => expect(Math.abs(v - probe[dtype][i])).toBeLessThan(tolerance))
          // The exported graph is the PyTorch model: fp32 within float rounding of torch's own answer.
          if (dtype === 'fp32') logits.forEach((v, i) => expect(Math.abs(v - probe.torch[i])).toBeLessThan(1e-4))
        }
      } finally {
        await session.release()
      }
    })
  }
})
