import 'fake-indexeddb/auto'
import { describe, expect, it } from 'vitest'
import { Batch, Report, WINDOW_MS } from '../../core/formats/telemetry.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import { openDatabase } from '../../client/db.ts'
import { PREDICTION_LOG_SIZE, PREDICTION_MAX_AGE_MS, PredictionLog, predictedClass } from '../../client/predictions.ts'
import { TelemetryQueue } from '../../client/telemetry/queue.ts'
import { ReportBuilder, type ReportTarget } from '../../client/telemetry/report-builder.ts'
import { TelemetryProcessor } from '../../client/telemetry/processor.ts'
import { createTransport } from '../../client/telemetry/transport.ts'
import type { ModelOutput, StatsDelta } from '../../worker/protocol.ts'
import { seededRandom } from '../../scripts/lib/random.ts'

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0)
const TARGET: ReportTarget = {
  model: 'weather',
  version: 3,
  role: 'primary',
  rollout: { id: 'r1', arm: 'baseline' },
  backend: 'wasm',
  fallbacks: {},
}
const DEVICE = { id: 'd_0123456789abcdef', caps: { webgpu: false }, sdk: '0.1.0' }
const sun: ModelOutput = { kind: 'classes', label: 'sun', scores: { sun: 0.7, rain: 0.3 } }

/** A worker delta with `n` inferences and no histograms. */
function delta(key: string, start: number, end: number, n: number): StatsDelta {
  const latency = new DDSketch()
  for (let i = 0; i < n; i++) latency.add(1 + i)
  return { key, window: { start, end }, inferences: n, errors: 0, latency: latency.toJSON(), features: {}, outputs: {} }
}

describe('the prediction log', () => {
  it('keeps the last PREDICTION_LOG_SIZE predictions: the oldest is forgotten first', () => {
    const log = new PredictionLog()
    for (let i = 0; i <= PREDICTION_LOG_SIZE; i++) log.remember(`p_${i}`, { at: T0, predicted: 'sun', answered: false })
    expect(log.size).toBe(PREDICTION_LOG_SIZE)
    expect(log.get('p_0', T0)).toBeUndefined()
    expect(log.get('p_1', T0)).toBeDefined()
    expect(log.get(`p_${PREDICTION_LOG_SIZE}`, T0)).toBeDefined()
    expect(() => log.feedback('p_0', 'sun', T0)).toThrow(
      expect.objectContaining({ name: 'EdgefleetError', code: 'not_found' }),
    )
  })

  it('forgets predictions older than 24 h, so feedback never lands in a window the edge refuses', () => {
    const log = new PredictionLog()
    log.remember('old', { target: TARGET, at: T0, predicted: 'sun', answered: false })
    expect(log.feedback('old', 'sun', T0 + PREDICTION_MAX_AGE_MS)).toMatchObject({ value: true })
    log.remember('older', { target: TARGET, at: T0, predicted: 'sun', answered: false })
    expect(() => log.feedback('older', 'sun', T0 + PREDICTION_MAX_AGE_MS + 1)).toThrow(
      expect.objectContaining({ code: 'not_found', pointer: '/id' }),
    )
  })

  it('judges feedback once per id, and says why it did not count', () => {
    const log = new PredictionLog()
    log.remember('a', { target: TARGET, at: T0 + 5_000, predicted: 'sun', answered: false })
    log.remember('b', { target: TARGET, at: T0, predicted: 'sun', answered: false })
    log.remember('reg', { target: TARGET, at: T0, answered: false })
    log.remember('sampled-out', { at: T0, predicted: 'rain', answered: false })
    expect(log.feedback('a', 'rain', T0 + 9_000)).toEqual({
      value: true,
      reason: 'recorded',
      count: { target: TARGET, at: T0 + 5_000, correct: false },
    })
    expect(log.feedback('a', 'sun', T0 + 9_000)).toEqual({ value: false, reason: 'duplicate' })
    expect(log.feedback('b', 'sun', T0)).toMatchObject({ value: true, count: { correct: true } })
    expect(log.feedback('reg', '3.2', T0)).toEqual({ value: false, reason: 'no_class' })
    expect(log.feedback('sampled-out', 'rain', T0)).toEqual({ value: false, reason: 'not_reported' })
    expect(() => log.feedback('nope', 'sun', T0)).toThrow(expect.objectContaining({ code: 'not_found' }))
    expect(() => log.feedback('b', 3 as unknown as string, T0)).toThrow(
      expect.objectContaining({ code: 'bad_request', pointer: '/label' }),
    )
  })

  it('finds the predicted class of classifiers and of tensor outputs the signature labels', () => {
    expect(predictedClass(sun, undefined)).toBe('sun')
    expect(predictedClass({ kind: 'regression', value: 3 }, undefined)).toBeUndefined()
    const signature = {
      kind: 'tensor' as const,
      inputs: [{ name: 'x', dtype: 'float32' as const, shape: [1, 4] }],
      outputs: [
        { name: 'embedding', dtype: 'float32' as const, shape: [1, 3] },
        { name: 'probs', dtype: 'float32' as const, shape: [1, 3], labels: ['cat', 'dog', 'bird'] },
      ],
    }
    const tensors = (probs: number[]): ModelOutput => ({
      kind: 'tensors',
      tensors: {
        embedding: { dtype: 'float32', dims: [1, 3], data: Float32Array.of(9, 9, 9) },
        probs: { dtype: 'float32', dims: [1, 3], data: Float32Array.from(probs) },
      },
    })
    expect(predictedClass(tensors([0.1, 0.7, 0.2]), signature)).toBe('dog')
    expect(predictedClass(tensors([0.5, 0.5, 0]), signature)).toBe('cat')
    expect(predictedClass(tensors([NaN, 0.5, 0]), signature)).toBeUndefined()
    expect(predictedClass(tensors([0.1, 0.7, 0.2]), undefined)).toBeUndefined()
    const int64: ModelOutput = {
      kind: 'tensors',
      tensors: { probs: { dtype: 'int64', dims: [3], data: BigInt64Array.of(1n, 0n, 7n) } },
    }
    expect(predictedClass(int64, signature)).toBe('bird')
  })
})

describe('feedback in reports', () => {
  it("counts into the report of the prediction's target and minute; a later one gets a report of its own", () => {
    const b = new ReportBuilder()
    b.track('k', TARGET)
    b.add(delta('k', T0 + 100, T0 + WINDOW_MS + 50, 4))
    b.addFeedback(TARGET, T0 + 30_000, true)
    b.addFeedback(TARGET, T0 + 31_000, false)
    b.addFeedback(TARGET, T0 + 32_000, true)
    // A shadow target's feedback does not mix with the primary's.
    b.addFeedback({ ...TARGET, role: 'shadow' }, T0 + 33_000, true)
    const [primary, shadow, ...rest] = b.drain()
    expect(rest).toEqual([])
    expect(primary).toMatchObject({
      role: 'primary',
      window: { start: T0, end: T0 + WINDOW_MS },
      counts: { inferences: 4 },
      feedback: { labeled: 3, correct: 2 },
    })
    expect(shadow).toMatchObject({ role: 'shadow', counts: { inferences: 0 }, feedback: { labeled: 1, correct: 1 } })
    // Feedback after its window was sent: a report with the feedback only, for the same window.
    b.addFeedback(TARGET, T0 + 40_000, false)
    const [late] = b.drain()
    expect(late).toMatchObject({
      window: { start: T0, end: T0 + WINDOW_MS },
      counts: { inferences: 0, errors: 0, loads: 0 },
      feedback: { labeled: 1, correct: 0 },
    })
    for (const r of [primary, shadow, late]) expect(Report.parse(r)).toEqual(r)
    // Without feedback, a report has no feedback field.
    b.add(delta('k', T0 + WINDOW_MS, T0 + 2 * WINDOW_MS, 2))
    expect(b.drain()[0]).not.toHaveProperty('feedback')
  })

  it('privacy: neither the label given nor the predicted class reaches the bytes sent', async () => {
    const LABEL = 'SENTINEL-LABEL-7f3a'
    const PREDICTED = 'SENTINEL-CLASS-91c2'
    const bodies: string[] = []
    const queue = new TelemetryQueue(await openDatabase('feedback-privacy'))
    const clock = { t: T0 + 61_000 }
    const p = new TelemetryProcessor({
      queue,
      transport: createTransport({
        endpoint: 'https://edge.test',
        appKey: 'k',
        now: () => clock.t,
        fetch: async (_url, init) => (
          bodies.push(await gunzipBody(init!.body as Uint8Array)),
          new Response('{}', { status: 202 })
        ),
      }),
      collect: async (k) => delta(k, T0, clock.t, 3),
      device: async () => DEVICE,
      now: () => clock.t,
      random: seededRandom(1),
      locks: null,
      window: null,
      document: null,
      timers: false,
    })
    expect(p.track('k', TARGET, { sampleRate: 1, flushSeconds: 30 })).toBe(true)
    const log = new PredictionLog()
    log.remember('p1', { target: p.targetOf('k'), at: T0 + 1_000, predicted: PREDICTED, answered: false })
    log.remember('p2', { target: p.targetOf('k'), at: T0 + 2_000, predicted: PREDICTED, answered: false })
    for (const [id, label] of [
      ['p1', LABEL],
      ['p2', PREDICTED],
      ['p2', LABEL],
    ]) {
      const { count } = log.feedback(id, label, clock.t)
      if (count) p.noteFeedback(count.target, count.at, count.correct)
    }
    await p.flush()
    expect(bodies).toHaveLength(1)
    expect(bodies[0]).not.toContain(LABEL)
    expect(bodies[0]).not.toContain(PREDICTED)
    const batch = Batch.parse(JSON.parse(bodies[0]))
    expect(batch.reports).toHaveLength(1)
    expect(batch.reports[0].feedback).toEqual({ labeled: 2, correct: 1 })
    await p.close()
  })
})

async function gunzipBody(bytes: Uint8Array): Promise<string> {
  return new Response(new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'))).text()
}
