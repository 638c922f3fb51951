import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Assignment } from '../../core/formats/assignment.ts'
import type { Signature } from '../../core/formats/signature.ts'
import { createFleet, type Fleet, type FleetEvent } from '../../client/fleet.ts'
import type { Prediction } from '../../client/model.ts'
import { linearClassifier } from '../helpers/onnx-model.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { rawRun, rawSession } from './support/ort-oracle.ts'
import { PageEdge, WORKER_URL, demoWeather } from './support/page-edge.ts'
import { NUMERIC, seattleRows, standardized, weatherRecord, type WeatherRow } from './support/seattle.ts'

type Tabular = Extract<Signature, { kind: 'tabular' }>

/**
 * A second real classifier over the demo model's standardized features (LDA with identity
 * covariance on the 2012 days, softmax), written with onnx-proto: the shadow-mode candidate.
 */
function candidateModel(rows: readonly WeatherRow[], signature: Tabular, labels: readonly string[]): Uint8Array {
  const z = standardized(rows, signature as never)
  const width = NUMERIC.length
  const weights = new Float32Array(width * labels.length)
  const bias = new Float32Array(labels.length)
  labels.forEach((label, k) => {
    const members = rows.flatMap((r, i) => (r.weather === label ? [i] : []))
    const mean = Array.from(
      { length: width },
      (_, c) => members.reduce((s, i) => s + z[i * width + c], 0) / Math.max(members.length, 1),
    )
    mean.forEach((m, c) => (weights[c * labels.length + k] = m))
    bias[k] = -0.5 * mean.reduce((s, m) => s + m * m, 0) + Math.log(Math.max(members.length, 1) / rows.length)
  })
  return linearClassifier(weights, bias, width, true)
}

/** A fleet on `edge` whose random draws are recorded, with its events. */
function startFleet(edge: PageEdge, name: string, seed: number) {
  const draws: number[] = []
  const rand = seededRandom(seed)
  const events: FleetEvent[] = []
  const waiters: ((e: FleetEvent) => void)[] = []
  const fleet = createFleet({
    endpoint: edge.origin,
    appKey: 'ef_test_key',
    fetch: edge.fetch,
    workerUrl: WORKER_URL,
    dbName: name,
    random: () => (draws.push(rand()), draws[draws.length - 1]),
    onEvent: (e) => (events.push(e), waiters.forEach((w) => w(e))),
  })
  /** The next event matching `match` (or one already seen). */
  const event = (match: (e: FleetEvent) => boolean) => {
    const seen = events.find(match)
    return seen
      ? Promise.resolve(seen)
      : new Promise<FleetEvent>((resolve) => waiters.push((e) => match(e) && resolve(e)))
  }
  return { fleet, draws, events, event }
}

const isShadow = (type: FleetEvent['type']) => (e: FleetEvent) => e.type === type && 'role' in e && e.role === 'shadow'
const label = (p: Prediction) =>
  p.output.kind === 'classes' ? p.output : { label: '', scores: {} as Record<string, number> }

describe('shadow mode: a candidate runs beside the primary in the same worker', () => {
  const edge = new PageEdge()
  let base: Assignment
  let shadowed: Assignment
  let rows: WeatherRow[]
  let candidate: Uint8Array
  let candidateSignature: Tabular
  const fleets: Fleet[] = []

  beforeAll(async () => {
    const weather = await demoWeather()
    const signature = weather.signature as Tabular
    const labels = signature.output.kind === 'classes' ? signature.output.labels : []
    const all = await seattleRows()
    rows = all.filter((r) => r.year === 2015).slice(0, 150)
    candidateSignature = {
      ...signature,
      input: { name: 'x' },
      output: { kind: 'classes', name: 'probs', labels, activation: 'none' },
    }
    candidate = candidateModel(
      all.filter((r) => r.year === 2012),
      signature,
      labels,
    )
    base = {
      model: 'weather',
      version: 1,
      role: 'primary',
      format: 'onnx',
      files: await edge.addFiles({ 'model.onnx': weather.onnx }),
      signature,
      profile: weather.profile,
      telemetry: { sampleRate: 1, windowSeconds: 60, flushSeconds: 3600 },
      ttlSeconds: 60,
    }
    shadowed = {
      ...base,
      rollout: { id: 'r_shadow', arm: 'candidate', mode: 'shadow' },
      shadow: {
        version: 2,
        format: 'onnx',
        files: await edge.addFiles({ 'model.onnx': candidate }),
        signature: candidateSignature,
        profile: weather.profile,
        sampleRate: 0.4,
      },
    }
  }, 120_000)

  afterAll(async () => {
    for (const f of fleets) await f.close()
  })

  test('compared/agreed match an oracle from raw onnxruntime-web; answers are identical with and without the shadow', async () => {
    edge.assignments.set('weather', shadowed)
    const withShadow = startFleet(edge, 'fleet-shadow-on', 31)
    fleets.push(withShadow.fleet)
    const model = await withShadow.fleet.load('weather', { backends: ['wasm'] })
    await withShadow.event(isShadow('loaded'))
    expect(model.shadow).toMatchObject({ version: 2, sampleRate: 0.4 })

    const before = withShadow.draws.length
    const answers: Prediction[] = [...(await model.predictBatch(rows.slice(0, 100).map(weatherRecord)))]
    for (const row of rows.slice(100)) answers.push(await model.predict(weatherRecord(row)))
    // One draw per input, in order: the inputs the shadow also ran.
    const sampled = withShadow.draws.slice(before).flatMap((u, i) => (u < 0.4 ? [i] : []))
    expect(withShadow.draws.length - before).toBe(rows.length)
    expect(Math.abs(sampled.length - 0.4 * rows.length)).toBeLessThan(4 * Math.sqrt(0.4 * 0.6 * rows.length))
    await model.settled()
    await withShadow.fleet.flush()

    // The oracle: the candidate run directly on the standardized inputs.
    const session = await rawSession(candidate.slice().buffer)
    const z = standardized(rows, candidateSignature as never)
    const probs = (await rawRun(session, { x: { dtype: 'float32', dims: [rows.length, NUMERIC.length], data: z } }))
      .probs.data as Float32Array
    await session.release()
    const labels = candidateSignature.output.kind === 'classes' ? candidateSignature.output.labels : []
    let agreed = 0
    let diffSum = 0
    for (const i of sampled) {
      const s = labels.map((_, k) => probs[i * labels.length + k])
      const best = s.indexOf(Math.max(...s))
      const p = label(answers[i])
      if (labels[best] === p.label) agreed++
      diffSum += labels.reduce((a, l, k) => a + Math.abs(p.scores[l] - s[k]), 0) / labels.length
    }
    // The two models do disagree on some days, so agreement is not trivially complete.
    expect(agreed).toBeGreaterThan(0)
    expect(agreed).toBeLessThan(sampled.length)

    const reports = edge.reports()
    const shadowReports = reports.filter((r) => r.role === 'shadow')
    const sum = (k: 'compared' | 'agreed') => shadowReports.reduce((a, r) => a + (r.shadow?.[k] ?? 0), 0)
    for (const r of shadowReports)
      expect(r).toMatchObject({
        model: 'weather',
        version: 2,
        rollout: { id: 'r_shadow', arm: 'candidate' },
        backend: 'wasm',
      })
    expect(sum('compared')).toBe(sampled.length)
    expect(sum('agreed')).toBe(agreed)
    const meanAbsDiff =
      shadowReports.reduce((a, r) => a + r.shadow!.meanAbsDiff * r.shadow!.compared, 0) / sum('compared')
    expect(meanAbsDiff).toBeCloseTo(diffSum / sampled.length, 6)
    expect(shadowReports.reduce((a, r) => a + r.counts.inferences, 0)).toBe(sampled.length)
    // The primary reports as before, labeled with the assignment's rollout arm, and carries no shadow block.
    const primary = reports.filter((r) => r.role === 'primary')
    expect(primary.reduce((a, r) => a + r.counts.inferences, 0)).toBe(rows.length)
    for (const r of primary) expect(r).toMatchObject({ version: 1, rollout: { id: 'r_shadow', arm: 'candidate' } })
    for (const r of primary) expect(r).not.toHaveProperty('shadow')

    // The same inputs through a fleet without a shadow: the app gets exactly the same answers.
    edge.assignments.set('weather', base)
    const plain = startFleet(edge, 'fleet-shadow-off', 32)
    fleets.push(plain.fleet)
    const alone = await plain.fleet.load('weather', { backends: ['wasm'] })
    expect(alone.shadow).toBeUndefined()
    const reference = [...(await alone.predictBatch(rows.slice(0, 100).map(weatherRecord)))]
    for (const row of rows.slice(100)) reference.push(await alone.predict(weatherRecord(row)))
    expect(answers.map((a) => a.output)).toEqual(reference.map((a) => a.output))

    // The assignment drops the shadow: the next check unloads it; predictions no longer run it.
    const reportsBefore = edge.reports().length
    await model.refresh()
    expect(model.shadow).toBeUndefined()
    await model.predictBatch(rows.slice(0, 20).map(weatherRecord))
    await model.settled()
    await withShadow.fleet.flush()
    const after = edge.reports().slice(reportsBefore)
    expect(after.filter((r) => r.role === 'shadow').reduce((a, r) => a + (r.shadow?.compared ?? 0), 0)).toBe(0)
    expect(after.filter((r) => r.role === 'primary').reduce((a, r) => a + r.counts.inferences, 0)).toBe(20)
  }, 180_000)

  test('a shadow that cannot load leaves the primary serving, and its report counts the failed load', async () => {
    const missing = {
      path: 'model.onnx',
      sha256: 'f'.repeat(64),
      size: 100,
      url: `${edge.origin}/v1/artifacts/${'f'.repeat(64)}`,
    }
    edge.assignments.set('weather', { ...shadowed, shadow: { ...shadowed.shadow!, version: 3, files: [missing] } })
    const f = startFleet(edge, 'fleet-shadow-broken', 33)
    fleets.push(f.fleet)
    const reportsBefore = edge.reports().length
    const model = await f.fleet.load('weather', { backends: ['wasm'] })
    expect(await f.event(isShadow('error'))).toMatchObject({
      type: 'error',
      model: 'weather',
      role: 'shadow',
      code: 'not_found',
    })
    expect(model.shadow).toBeUndefined()
    const answers = await model.predictBatch(rows.slice(0, 10).map(weatherRecord))
    expect(answers).toHaveLength(10)
    await f.fleet.flush()
    const reports = edge.reports().slice(reportsBefore)
    expect(reports.filter((r) => r.role === 'primary').reduce((a, r) => a + r.counts.inferences, 0)).toBe(10)
    expect(reports.filter((r) => r.role === 'shadow')).toMatchObject([
      {
        version: 3,
        rollout: { id: 'r_shadow', arm: 'candidate' },
        counts: { inferences: 0, errors: 1, loads: 1 },
        fallbacks: { wasm: 'not_found' },
        shadow: { compared: 0 },
      },
    ])
  }, 120_000)

  test('a shadow variant that fails to load moves the device to the next variant, and a new page starts there', async () => {
    // v2 in two variants: `fp16`, whose file is no ONNX model, and `default`, the real candidate.
    const broken = {
      ...shadowed.shadow!,
      variant: 'fp16',
      files: await edge.addFiles({ 'model.onnx': new TextEncoder().encode('not an onnx model') }),
    }
    const working = { ...shadowed.shadow!, variant: 'default' }
    const excludes: string[] = []
    edge.assignFor = (model, query) => {
      if (model !== 'weather') return undefined
      const exclude = query.get('exclude') ?? ''
      excludes.push(exclude)
      return { ...shadowed, shadow: exclude.split(',').includes('2:fp16') ? working : broken }
    }
    try {
      const first = startFleet(edge, 'fleet-shadow-variant', 34)
      fleets.push(first.fleet)
      const model = await first.fleet.load('weather', { backends: ['wasm'] })
      expect(await first.event(isShadow('variant_fallback'))).toMatchObject({
        model: 'weather',
        version: 2,
        from: 'fp16',
        to: 'default',
      })
      expect(await first.event(isShadow('loaded'))).toMatchObject({ version: 2, variant: 'default' })
      expect(first.events.filter(isShadow('error'))).toHaveLength(1)
      expect(model.shadow).toMatchObject({ version: 2 })
      // The primary never moved, and the shadow now runs beside it.
      expect(first.events.filter((e) => e.type === 'loaded' && e.role === 'primary')).toHaveLength(1)
      expect(model.version).toBe(1)
      await model.predictBatch(rows.slice(0, 20).map(weatherRecord))
      await model.settled()
      expect(excludes).toEqual(['', '2:fp16'])

      // The next page on this device asks without the broken variant at once and never fetches it.
      const second = startFleet(edge, 'fleet-shadow-variant', 35)
      fleets.push(second.fleet)
      await second.fleet.load('weather', { backends: ['wasm'] })
      expect(await second.event(isShadow('loaded'))).toMatchObject({ version: 2, variant: 'default' })
      expect(excludes.slice(2)).toEqual(['2:fp16'])
      expect(second.events.filter((e) => e.type === 'variant_fallback' || e.type === 'error')).toEqual([])
    } finally {
      edge.assignFor = undefined
    }
  }, 120_000)
})
