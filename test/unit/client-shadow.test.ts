import 'fake-indexeddb/auto'
import { describe, expect, it } from 'vitest'
import { Batch, Report, WINDOW_MS } from '../../core/formats/telemetry.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import { openDatabase } from '../../client/db.ts'
import { TelemetryQueue } from '../../client/telemetry/queue.ts'
import { ReportBuilder, type ReportTarget } from '../../client/telemetry/report-builder.ts'
import { TelemetryProcessor } from '../../client/telemetry/processor.ts'
import { createTransport } from '../../client/telemetry/transport.ts'
import type { StatsDelta } from '../../worker/protocol.ts'

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0)
const PRIMARY: ReportTarget = {
  model: 'weather',
  version: 1,
  role: 'primary',
  rollout: { id: 'r_s', arm: 'candidate' },
  backend: 'wasm',
  fallbacks: {},
}
const SHADOW: ReportTarget = { ...PRIMARY, version: 2, role: 'shadow' }
const DEVICE = { id: 'd_0123456789abcdef', caps: { webgpu: false }, sdk: '0.1.0' }

function delta(key: string, start: number, end: number, n: number, shadow?: StatsDelta['shadow']): StatsDelta {
  const latency = new DDSketch()
  for (let i = 0; i < n; i++) latency.add(2)
  return {
    key,
    window: { start, end },
    inferences: n,
    errors: 0,
    latency: latency.toJSON(),
    features: {},
    outputs: {},
    ...(shadow ? { shadow } : {}),
  }
}

describe('shadow reports', () => {
  it('sum the comparisons of a window; meanAbsDiff = Σ per-comparison differences / compared', () => {
    const b = new ReportBuilder()
    b.track('p', PRIMARY)
    b.track('s', SHADOW)
    b.add(delta('p', T0, T0 + 30_000, 10))
    b.add(delta('s', T0, T0 + 20_000, 3, { compared: 3, agreed: 2, absDiffSum: 0.3, dropped: 0 }))
    b.add(delta('s', T0 + 20_000, T0 + 40_000, 1, { compared: 1, agreed: 1, absDiffSum: 0.1, dropped: 4 }))
    // A careless worker claiming more agreements than comparisons is held to the schema.
    b.add(delta('s', T0 + 40_000, T0 + 50_000, 1, { compared: 1, agreed: 5, absDiffSum: 0.2, dropped: 0 }))
    const [p, s] = b.drain()
    expect(p).toMatchObject({ role: 'primary', counts: { inferences: 10 } })
    expect(p).not.toHaveProperty('shadow')
    expect(s).toMatchObject({
      role: 'shadow',
      version: 2,
      rollout: { id: 'r_s', arm: 'candidate' },
      counts: { inferences: 5 },
      shadow: { compared: 5, agreed: 4 },
    })
    expect(s.shadow!.meanAbsDiff).toBeCloseTo(0.6 / 5, 12)
    for (const r of [p, s]) expect(Report.parse(r)).toEqual(r)
  })

  it('a failed shadow load is one load and one error of the shadow, in the minute it failed', () => {
    const b = new ReportBuilder()
    b.addFailedLoad({ ...SHADOW, fallbacks: { wasm: 'integrity_error' } }, T0 + 5_000, 120)
    const [r] = b.drain()
    expect(r).toMatchObject({
      role: 'shadow',
      window: { start: T0, end: T0 + WINDOW_MS },
      counts: { inferences: 0, errors: 1, loads: 1 },
      fallbacks: { wasm: 'integrity_error' },
      shadow: { compared: 0, agreed: 0, meanAbsDiff: 0 },
    })
    expect(r.loadMs.n).toBe(1)
    expect(Report.parse(r)).toEqual(r)
  })
})

describe('the processor with a shadow', () => {
  async function setup(collect: (k: string) => StatsDelta) {
    const sent: Batch[] = []
    const clock = { t: T0 + 61_000 }
    let draws = 0
    const p = new TelemetryProcessor({
      queue: new TelemetryQueue(await openDatabase(`shadow-${Math.random()}`)),
      transport: createTransport({
        endpoint: 'https://edge.test',
        appKey: 'k',
        gzip: false,
        now: () => clock.t,
        fetch: async (_u, init) => (
          sent.push(Batch.parse(JSON.parse(String(init!.body)))),
          new Response('{}', { status: 202 })
        ),
      }),
      collect: async (k) => collect(k),
      device: async () => DEVICE,
      now: () => clock.t,
      random: () => (draws++, 0.9),
      locks: null,
      window: null,
      document: null,
      timers: false,
    })
    return { p, sent, clock, draws: () => draws }
  }

  it("the shadow follows its primary's sampling draw; skipped shadow runs are counted as dropped", async () => {
    const { p, sent, draws } = await setup((k) =>
      k === 's'
        ? delta(k, T0, T0 + 60_000, 2, { compared: 2, agreed: 2, absDiffSum: 0, dropped: 7 })
        : delta(k, T0, T0 + 60_000, 9),
    )
    expect(p.track('p', PRIMARY, { sampleRate: 0.5, flushSeconds: 30 })).toBe(false) // 0.9 ≥ 0.5: sampled out
    expect(p.track('s', SHADOW, { sampleRate: 0.5, flushSeconds: 30 }, false)).toBe(false)
    expect(draws()).toBe(1)
    expect(p.track('p2', PRIMARY, { sampleRate: 1, flushSeconds: 30 })).toBe(true)
    expect(p.track('s', SHADOW, { sampleRate: 1, flushSeconds: 30 }, true)).toBe(true)
    expect(draws()).toBe(2)
    await p.flush()
    await p.flush() // the drops counted by the first flush travel in the next batch
    const [first, second] = sent
    expect(first.reports.map((r) => r.role).sort()).toEqual(['primary', 'shadow'])
    expect(second.dropped).toEqual({ shadow_overflow: 7 })
    await p.close()
  })

  it('retarget: what was counted before a rollout label changed keeps the old label', async () => {
    let next = T0
    const { p, sent, clock } = await setup((k) => {
      const d = delta(k, next, clock.t, 4)
      next = clock.t
      return d
    })
    const plain: ReportTarget = { ...PRIMARY, rollout: undefined }
    p.track('p', plain, { sampleRate: 1, flushSeconds: 30 })
    clock.t = T0 + 20_000
    await p.retarget('p', PRIMARY)
    clock.t = T0 + 40_000
    await p.flush()
    expect(sent.flatMap((b) => b.reports).map((r) => [r.rollout ?? null, r.counts.inferences])).toEqual([
      [null, 4],
      [{ id: 'r_s', arm: 'candidate' }, 4],
    ])
    await p.close()
  })
})
