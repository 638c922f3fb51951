import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Assignment } from '../../core/formats/assignment.ts'
import { createFleet, type Fleet } from '../../client/fleet.ts'
import type { FleetModel, Prediction } from '../../client/model.ts'
import { PageEdge, WORKER_URL, weatherAssignment } from './support/page-edge.ts'
import { seattleRows, weatherRecord, type WeatherRow } from './support/seattle.ts'

/** The real SDK (createFleet → IndexedDB → worker → onnxruntime-web) on the committed weather classifier. */
describe('fleet.feedback on the demo weather classifier', () => {
  const edge = new PageEdge()
  let fleet: Fleet
  let model: FleetModel
  let rows: WeatherRow[]

  beforeAll(async () => {
    const assignment: Assignment = await weatherAssignment(edge, {
      rollout: { id: 'r_feedback', arm: 'baseline', mode: 'canary' },
    })
    edge.assignments.set('weather', assignment)
    fleet = createFleet({
      endpoint: edge.origin,
      appKey: 'ef_test_key',
      fetch: edge.fetch,
      workerUrl: WORKER_URL,
      dbName: 'fleet-feedback-test',
    })
    model = await fleet.load('weather', { backends: ['wasm'] })
    rows = (await seattleRows()).filter((r) => r.year === 2015).slice(0, 120)
  }, 120_000)

  afterAll(() => fleet?.close())

  test('counts labeled and correct against the classes the model predicted; labels never leave the page', async () => {
    const predictions: Prediction[] = [...(await model.predictBatch(rows.slice(0, 100).map(weatherRecord)))]
    for (const row of rows.slice(100)) predictions.push(await model.predict(weatherRecord(row)))
    // The oracle: the label each output decoded to, compared with the day's recorded weather.
    const label = (p: Prediction) => (p.output.kind === 'classes' ? p.output.label : '')
    const correct = predictions.filter((p, i) => label(p) === rows[i].weather).length
    expect(correct).toBeGreaterThan(0)
    expect(correct).toBeLessThan(predictions.length)

    predictions.forEach((p, i) =>
      expect(fleet.feedback(p.id, rows[i].weather)).toEqual({ value: true, reason: 'recorded' }),
    )
    // Twice for one id counts once, whatever the second label says.
    expect(fleet.feedback(predictions[0].id, label(predictions[0]))).toEqual({ value: false, reason: 'duplicate' })
    expect(() => fleet.feedback('p_unknown', 'sun')).toThrow(
      expect.objectContaining({ name: 'EdgefleetError', code: 'not_found' }),
    )

    await fleet.flush()
    const reports = edge.reports()
    expect(reports.length).toBeGreaterThan(0)
    for (const r of reports)
      expect(r).toMatchObject({
        model: 'weather',
        version: 1,
        role: 'primary',
        rollout: { id: 'r_feedback', arm: 'baseline' },
      })
    const sum = (k: 'labeled' | 'correct') => reports.reduce((a, r) => a + (r.feedback?.[k] ?? 0), 0)
    expect(sum('labeled')).toBe(predictions.length)
    expect(sum('correct')).toBe(correct)
    expect(reports.reduce((a, r) => a + r.counts.inferences, 0)).toBe(predictions.length)
    const bytes = JSON.stringify(edge.batches)
    for (const name of ['drizzle', 'rain', 'snow', 'fog']) expect(bytes).not.toContain(name)
  }, 120_000)
})
