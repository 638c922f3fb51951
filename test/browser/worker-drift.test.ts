import type { Remote } from 'comlink'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { pValuesEqual } from '../../core/drift/policy.ts'
import type { Profile } from '../../core/formats/profile.ts'
import { buildProfile } from '../../core/profile/build.ts'
import { linearClassifier } from '../helpers/onnx-model.ts'
import seattleVectors from '../vectors/drift-seattle.json'
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
import { sileroFeeds } from './support/tensors.ts'
import { fetchBytes, runtimeAssets, startWorker } from './support/worker-client.ts'

let api: Remote<WorkerApi>
let worker: Worker
let runtime: RuntimeAssets

beforeAll(async () => {
  ;({ api, worker } = startWorker())
  runtime = await runtimeAssets({ ortWasm: true })
}, 60_000)

afterAll(() => worker.terminate())

/**
 * A linear discriminant as an ONNX model written with onnx-proto: on standardized features z,
 * logit_k = μ_k·z − ½‖μ_k‖² + ln prior_k with μ_k the class means of 2012 (LDA with identity covariance).
 */
function weatherModel(rows: readonly WeatherRow[], signature: ReturnType<typeof weatherSignature>): Uint8Array {
  const z = standardized(rows, signature)
  const width = NUMERIC.length
  const weights = new Float32Array(width * LABELS.length)
  const bias = new Float32Array(LABELS.length)
  LABELS.forEach((label, k) => {
    const members = rows.flatMap((r, i) => (r.weather === label ? [i] : []))
    const mean = Array.from(
      { length: width },
      (_, c) => members.reduce((s, i) => s + z[i * width + c], 0) / Math.max(members.length, 1),
    )
    mean.forEach((m, c) => (weights[c * LABELS.length + k] = m))
    bias[k] = -0.5 * mean.reduce((s, m) => s + m * m, 0) + Math.log(Math.max(members.length, 1) / rows.length)
  })
  return linearClassifier(weights, bias, width, false)
}

function label(output: ModelOutput): { label: string; confidence: number } {
  if (output.kind !== 'classes') throw new Error(`expected classes, got ${output.kind}`)
  return { label: output.label, confidence: output.scores[output.label] }
}

describe('local drift of a tabular model: seattle-weather 2012 (reference) vs 2015', () => {
  let rows: WeatherRow[]
  let request: Omit<LoadRequest, 'key'>

  beforeAll(async () => {
    rows = await seattleRows()
    const reference = rows.filter((r) => r.year === 2012)
    const signature = weatherSignature(reference, 'softmax')
    const bytes = weatherModel(reference, signature)
    request = {
      model: 'weather',
      version: 1,
      role: 'primary',
      format: 'onnx',
      files: { 'model.onnx': bytes.slice().buffer },
      signature,
      backends: ['wasm'],
      runtime,
    }
    // The reference profile holds the inputs of 2012 and the model's own outputs on them, as `edgefleet profile` would.
    await api.load({ ...request, key: 'weather-reference' })
    const outputs = (await api.predictBatch('weather-reference', reference.map(weatherRecord))).map((r) =>
      label(r.output),
    )
    const records = reference.map((r, i) => ({
      ...weatherRecord(r),
      weather: outputs[i].label,
      confidence: outputs[i].confidence,
    }))
    const profile: Profile = buildProfile(records, { features: [...NUMERIC], outputs: ['weather', 'confidence'] })
    await api.load({ ...request, files: { 'model.onnx': bytes.slice().buffer }, key: 'weather', profile })
  }, 60_000)

  test('2015 flags temp_max, not wind — with the metrics scipy gives on the same bins', async () => {
    const current = rows.filter((r) => r.year === 2015)
    // In several calls, one of them a single predict, as an app would.
    await api.predict('weather', weatherRecord(current[0]))
    for (let i = 1; i < current.length; i += 100)
      await api.predictBatch('weather', current.slice(i, i + 100).map(weatherRecord))
    const report = await api.drift('weather')
    expect(report).toMatchObject({ key: 'weather', model: 'weather', version: 1 })
    expect(report.features.temp_max).toMatchObject({
      type: 'numeric',
      n: 365,
      missing: 0,
      drifted: true,
      reason: 'drifted',
    })
    expect(report.features.wind).toMatchObject({ n: 365, drifted: false, reason: 'no_drift' })
    expect(report.features.temp_min.drifted).toBe(false)
    expect(report.drifted).toContain('temp_max')
    expect(report.drifted).not.toContain('wind')
    for (const name of ['temp_max', 'temp_min', 'wind', 'precipitation'] as const) {
      const expected = seattleVectors.numeric[name]
      const got = report.features[name]
      expect(pValuesEqual(got.chi2_p, expected.chi2_p), `${name} chi2 p ${got.chi2_p} vs ${expected.chi2_p}`).toBe(true)
      expect(got.js).toBeCloseTo(expected.js, 9)
      expect(got.psi).toBeCloseTo(expected.psi, 9)
    }
    // Outputs are monitored too: the predicted class (categorical) and the top score (numeric).
    expect(report.outputs.weather).toMatchObject({ type: 'categorical', n: 365 })
    expect(report.outputs.confidence).toMatchObject({ type: 'numeric', n: 365 })
    const minute = Math.floor(Date.now() / 60_000) * 60_000
    expect(report.window.end).toBe(minute + 60_000)
    expect(report.window.start).toBeLessThanOrEqual(minute)
  }, 60_000)

  test('values leave the rolling window after driftWindowMinutes; collect() hands out totals since the last collect', async () => {
    const later = await api.drift('weather', Date.now() + 61 * 60_000)
    expect(later.features.temp_max).toMatchObject({ n: 0, reason: 'insufficient_data', drifted: false })
    const stats = await api.collect('weather')
    expect(stats.inferences).toBe(365)
    expect(stats.errors).toBe(0)
    expect(stats.latency.n).toBe(5) // one predict and four batches: one engine run each
    expect(stats.features.temp_max.counts.reduce((a, b) => a + b, 0)).toBe(365)
    expect(stats.outputs.weather.counts.reduce((a, b) => a + b, 0)).toBe(365)
    const again = await api.collect('weather')
    expect(again.inferences).toBe(0)
    expect(again.features.temp_max.counts.every((c) => c === 0)).toBe(true)
  })
})

describe('local drift of a tensor model: per-sample summaries of Silero input', () => {
  test('louder audio drifts input.std; the same source does not', async () => {
    const silero = await fetchBytes('/node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx')
    const summaries = Array.from({ length: 400 }, (_, seed) => {
      const x = sileroFeeds(seed).input.data as Float32Array
      const mean = x.reduce((a, b) => a + b, 0) / x.length
      const std = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length)
      return { 'input.mean': mean, 'input.std': std, 'input.min': Math.min(...x), 'input.max': Math.max(...x) }
    })
    const profile = buildProfile(summaries)
    const base = {
      model: 'vad',
      version: 1,
      role: 'primary' as const,
      format: 'onnx' as const,
      profile,
      backends: ['wasm' as const],
    }
    await api.load({ ...base, key: 'vad-same', files: { 'model.onnx': silero.slice(0) } })
    await api.load({ ...base, key: 'vad-loud', files: { 'model.onnx': silero.slice(0) } })
    await api.predictBatch(
      'vad-same',
      Array.from({ length: 200 }, (_, i) => sileroFeeds(10_000 + i)),
    )
    await api.predictBatch(
      'vad-loud',
      Array.from({ length: 200 }, (_, i) => sileroFeeds(20_000 + i, undefined, 0.4)),
    )
    const same = await api.drift('vad-same')
    const loud = await api.drift('vad-loud')
    expect(same.features['input.std']).toMatchObject({ n: 200, drifted: false })
    expect(loud.features['input.std']).toMatchObject({ n: 200, drifted: true })
    expect(loud.drifted).toContain('input.std')
  }, 60_000)
})
