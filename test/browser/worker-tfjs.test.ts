import * as tf from '@tensorflow/tfjs'
import type { Remote } from 'comlink'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Backend } from '../../core/formats/common.ts'
import type { LoadRequest, ModelOutput, RuntimeAssets, WorkerApi } from '../../worker/protocol.ts'
import {
  LABELS,
  NUMERIC,
  seattleRows,
  standardized,
  weatherRecord,
  weatherSignature,
  type WeatherRow,
} from './support/seattle.ts'
import { maxAbsDiff, seededImage } from './support/tensors.ts'
import { fetchBytes, runtimeAssets, startWorker } from './support/worker-client.ts'

const LIVENESS = '/node_modules/@vladmandic/human/models'

let api: Remote<WorkerApi>
let worker: Worker
let runtime: RuntimeAssets

beforeAll(async () => {
  ;({ api, worker } = startWorker())
  runtime = await runtimeAssets({ tfjsWasm: true })
  // The page's own tfjs (the oracle) runs on the plain JS backend: deterministic and exact float32.
  await tf.setBackend('cpu')
}, 60_000)

afterAll(() => worker.terminate())

function scores(output: ModelOutput): number[] {
  if (output.kind !== 'classes') throw new Error(`expected classes, got ${output.kind}`)
  return LABELS.map((l) => output.scores[l])
}

describe('a tfjs graph model (liveness)', () => {
  let files: Record<string, ArrayBuffer>
  const input = seededImage(7, [1, 32, 32, 3])
  let expected: Float32Array

  beforeAll(async () => {
    files = {
      'liveness.json': await fetchBytes(`${LIVENESS}/liveness.json`),
      'liveness.bin': await fetchBytes(`${LIVENESS}/liveness.bin`),
    }
    const oracle = await tf.loadGraphModel(`${LIVENESS}/liveness.json`)
    const out = oracle.predict(tf.tensor(input.data as Float32Array, input.dims)) as tf.Tensor
    expected = (await out.data()) as Float32Array
    oracle.dispose()
  }, 60_000)

  test('runs on the first available backend of the default order (webgl here) and matches tfjs in the page', async () => {
    const loaded = await api.load({
      key: 'liveness',
      model: 'liveness',
      version: 1,
      role: 'primary',
      format: 'tfjs-graph',
      files,
      runtime,
    })
    expect(loaded.backend).toBe('webgl')
    expect(loaded.fallbacks).toEqual({ webgpu: 'not_available' })
    const { output } = await api.predict('liveness', { [loaded.inputs[0]]: input })
    if (output.kind !== 'tensors') throw new Error('expected tensors')
    const t = output.tensors[loaded.outputs[0]]
    expect(t.dims).toEqual([1, 2])
    expect(maxAbsDiff(t, { dtype: 'float32', dims: [1, 2], data: expected })).toBeLessThanOrEqual(1e-3)
  }, 60_000)

  test.each(['cpu', 'wasm'] as const)(
    'runs on %s and matches the page within 1e-5',
    async (backend) => {
      const loaded = await api.load({
        key: `liveness-${backend}`,
        model: 'liveness',
        version: 1,
        role: 'primary',
        format: 'tfjs-graph',
        files,
        backends: [backend],
      })
      expect(loaded.backend).toBe(backend)
      const { output } = await api.predict(`liveness-${backend}`, { [loaded.inputs[0]]: input })
      if (output.kind !== 'tensors') throw new Error('expected tensors')
      expect(
        maxAbsDiff(output.tensors[loaded.outputs[0]], { dtype: 'float32', dims: [1, 2], data: expected }),
      ).toBeLessThanOrEqual(1e-5)
    },
    60_000,
  )
})

describe('a tfjs layers model trained in the test on seattle-weather', () => {
  let rows: WeatherRow[]
  let signature: ReturnType<typeof weatherSignature>
  let files: Record<string, ArrayBuffer>
  let pageScores: number[][]

  beforeAll(async () => {
    rows = await seattleRows()
    const train = rows.filter((r) => r.year <= 2014)
    signature = weatherSignature(train, 'none')
    const model = tf.sequential({
      layers: [
        tf.layers.dense({
          inputShape: [NUMERIC.length],
          units: 16,
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
        }),
        tf.layers.dense({
          units: LABELS.length,
          activation: 'softmax',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
        }),
      ],
    })
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] })
    const x = tf.tensor2d(standardized(train, signature), [train.length, NUMERIC.length])
    const y = tf.oneHot(
      tf.tensor1d(
        train.map((r) => LABELS.indexOf(r.weather)),
        'int32',
      ),
      LABELS.length,
    )
    const history = await model.fit(x, y, { epochs: 8, batchSize: 64, shuffle: false, verbose: 0 })
    // Training did something: the model beats always answering the most common label.
    expect(history.history.acc.at(-1)).toBeGreaterThan(0.6)
    files = await saveToFiles(model)
    const test2015 = rows.filter((r) => r.year === 2015)
    const out = model.predict(
      tf.tensor2d(standardized(test2015, signature), [test2015.length, NUMERIC.length]),
    ) as tf.Tensor
    pageScores = (await out.array()) as number[][]
  }, 120_000)

  test.each(['cpu', 'wasm', 'webgl'] as const)(
    'loads on %s (forced), and predicts like the model in the page',
    async (backend: Backend) => {
      const request: LoadRequest = {
        key: `weather-${backend}`,
        model: 'weather',
        version: 1,
        role: 'primary',
        format: 'tfjs-layers',
        files,
        signature,
        backends: [backend],
        runtime,
      }
      const loaded = await api.load(request)
      expect(loaded).toMatchObject({ backend, fallbacks: {} })
      const test2015 = rows.filter((r) => r.year === 2015)
      const results = await api.predictBatch(`weather-${backend}`, test2015.map(weatherRecord))
      const tolerance = backend === 'webgl' ? 1e-3 : 1e-5
      let worst = 0
      results.forEach((r, i) => {
        const s = scores(r.output)
        s.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - pageScores[i][k]))))
        // The label is the arg-max of the scores.
        expect(r.output.kind === 'classes' && r.output.label).toBe(LABELS[s.indexOf(Math.max(...s))])
      })
      expect(worst).toBeLessThanOrEqual(tolerance)
      // One record through predict() equals the same record in the batch.
      const single = await api.predict(`weather-${backend}`, weatherRecord(test2015[0]))
      expect(maxDiff(scores(single.output), scores(results[0].output))).toBeLessThanOrEqual(tolerance)
    },
    60_000,
  )

  test('the three backends agree with each other', async () => {
    const probe = rows
      .filter((r) => r.year === 2015)
      .slice(0, 50)
      .map(weatherRecord)
    const [cpu, wasm, webgl] = await Promise.all(
      ['cpu', 'wasm', 'webgl'].map((b) => api.predictBatch(`weather-${b}`, probe)),
    )
    for (let i = 0; i < probe.length; i++) {
      expect(maxDiff(scores(cpu[i].output), scores(wasm[i].output))).toBeLessThanOrEqual(1e-5)
      expect(maxDiff(scores(cpu[i].output), scores(webgl[i].output))).toBeLessThanOrEqual(1e-3)
    }
  })
})

function maxDiff(a: number[], b: number[]): number {
  return Math.max(...a.map((v, i) => Math.abs(v - b[i])))
}

/** The model as the files a registry would hold: model.json and its weights split over two shards. */
async function saveToFiles(model: tf.LayersModel): Promise<Record<string, ArrayBuffer>> {
  let saved: tf.io.ModelArtifacts | undefined
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
    }),
  )
  if (saved?.weightData === undefined || saved.weightSpecs === undefined) throw new Error('nothing saved')
  const weights = new Uint8Array(tf.io.concatenateArrayBuffers(saved.weightData))
  const half = Math.floor(weights.byteLength / 2)
  const json = {
    format: 'layers-model',
    generatedBy: saved.generatedBy,
    convertedBy: null,
    modelTopology: saved.modelTopology,
    weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: saved.weightSpecs }],
  }
  return {
    'model.json': new TextEncoder().encode(JSON.stringify(json)).buffer,
    'group1-shard1of2.bin': weights.slice(0, half).buffer,
    'group1-shard2of2.bin': weights.slice(half).buffer,
  }
}
