import 'fake-indexeddb/auto'
import { describe, expect, it } from 'vitest'
import { Batch, Report, WINDOW_MS } from '../../core/formats/telemetry.ts'
import { FeatureHistogram } from '../../core/profile/histogram.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import { openDatabase } from '../../client/db.ts'
import { clipHistogram, DpBudget, laplace, laplaceScale, privatizeReport } from '../../client/telemetry/dp.ts'
import { resolveDp } from '../../client/telemetry/dp-options.ts'
import { TelemetryQueue } from '../../client/telemetry/queue.ts'
import type { ReportTarget } from '../../client/telemetry/report-builder.ts'
import { TelemetryProcessor } from '../../client/telemetry/processor.ts'
import { createTransport } from '../../client/telemetry/transport.ts'
import type { StatsDelta } from '../../worker/protocol.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { makeReport, PROFILE } from '../helpers/telemetry.ts'

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0)
const DAY = 86_400_000
const TARGET: ReportTarget = { model: 'weather', version: 3, role: 'primary', backend: 'wasm', fallbacks: {} }
const DEVICE = { id: 'd_0123456789abcdef', caps: { webgpu: false }, sdk: '0.1.0' }
let dbs = 0

/** `n` seeded draws of f. */
const draws = (n: number, f: () => number) => Array.from({ length: n }, f)
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

/** E|round(X)| for X ~ Laplace(0, b): Σ_k |k|·P(round X = k), P(round X = k) = ½(e^{−(k−½)/b} − e^{−(k+½)/b}) for k ≥ 1, twice by symmetry. */
function expectedAbsRounded(b: number): number {
  let e = 0
  for (let k = 1; k < 60 * b + 10; k++) e += k * (Math.exp(-(k - 0.5) / b) - Math.exp(-(k + 0.5) / b))
  return e
}

/** A worker delta of `n` inferences binned on the test profile. */
function delta(key: string, start: number, end: number, n: number, rand: () => number): StatsDelta {
  const temp = new FeatureHistogram(PROFILE.features.temp_max as never)
  const label = new FeatureHistogram(PROFILE.outputs.label as never)
  const latency = new DDSketch()
  for (let i = 0; i < n; i++) {
    temp.add(rand() * 30)
    label.add(rand() < 0.5 ? 'sun' : 'rain')
    latency.add(1 + rand())
  }
  return {
    key,
    window: { start, end },
    inferences: n,
    errors: 0,
    latency: latency.toJSON(),
    features: { temp_max: temp.snapshot() },
    outputs: { label: label.snapshot() },
  }
}

async function dpProcessor(
  clock: { t: number },
  options: {
    dailyBudget: number
    epsilon?: number
    sent: Batch[]
    deltas: (k: string) => StatsDelta
    window?: EventTarget
  },
) {
  const db = await openDatabase(`dp-test-${++dbs}`)
  const budget = new DpBudget(db, options.dailyBudget)
  let ids = 0
  const p = new TelemetryProcessor({
    queue: new TelemetryQueue(db),
    transport: createTransport({
      endpoint: 'https://edge.test',
      appKey: 'k',
      gzip: false,
      now: () => clock.t,
      fetch: async (_u, init) => (
        options.sent.push(Batch.parse(JSON.parse(String(init!.body)))),
        new Response('{}', { status: 202 })
      ),
      sendBeacon: (_u, data) => (
        void (data as Blob).text().then((t) => options.sent.push(Batch.parse(JSON.parse(t)))),
        true
      ),
    }),
    collect: async (k) => options.deltas(k),
    device: async () => DEVICE,
    now: () => clock.t,
    random: () => 0,
    locks: null,
    window: options.window ?? null,
    document: null,
    timers: false,
    batchId: () => `batch_${String(++ids).padStart(4, '0')}`,
    dp: { epsilon: options.epsilon ?? 1, clip: 1, budget, random: seededRandom(77) },
  })
  p.track('k', TARGET, { sampleRate: 1, flushSeconds: 60 })
  return { p, budget }
}

const histogramTotal = (r: Report) =>
  Object.values({ ...r.features, ...r.outputs }).reduce(
    (a, h) => a + h.missing + h.counts.reduce((x, y) => x + y, 0),
    0,
  )

describe('the Laplace mechanism', () => {
  it('draws Laplace(0, b): mean |X| = b, mean 0, P(|X| > b ln 20) = 5%, within 4 standard errors', () => {
    const b = 2.5
    const n = 40_000
    const xs = draws(
      n,
      (
        (r) => () =>
          laplace(b, r)
      )(seededRandom(1)),
    )
    // |X| is exponential with mean b and sd b; X has sd √2·b; the tail count is binomial.
    expect(Math.abs(mean(xs.map(Math.abs)) - b)).toBeLessThan((4 * b) / Math.sqrt(n))
    expect(Math.abs(mean(xs))).toBeLessThan((4 * Math.SQRT2 * b) / Math.sqrt(n))
    const tail = xs.filter((x) => Math.abs(x) > b * Math.log(20)).length / n
    expect(Math.abs(tail - 0.05)).toBeLessThan(4 * Math.sqrt((0.05 * 0.95) / n))
  })

  it('noises each histogram count with scale b = 2·C·H/ε (H = histograms in the report), rounded to integers', () => {
    expect(laplaceScale(6, 1, 1)).toBe(12)
    const rand = seededRandom(2)
    const report: Report = {
      ...makeReport(seededRandom(3), { model: 'weather', start: T0 }),
      features: { temp_max: { counts: [500, 500], missing: 0 } },
      outputs: { label: { counts: [600, 400], missing: 0 } },
    }
    // C = 1000 keeps every value, so the noise alone moves the counts: b = 2·1000·2/100 = 40.
    const dp = { epsilon: 100, clip: 1000 }
    const b = laplaceScale(2, dp.epsilon, dp.clip)
    expect(b).toBe(40)
    const errors: number[] = []
    const zeros: number[] = []
    for (let i = 0; i < 1000; i++) {
      const r = privatizeReport(report, dp, rand)
      const pairs = [
        [r.features.temp_max.counts, [500, 500]],
        [r.outputs.label.counts, [600, 400]],
      ] as const
      for (const [noised, exact] of pairs)
        noised.forEach((c, j) => (expect(Number.isInteger(c)).toBe(true), errors.push(Math.abs(c - exact[j]))))
      zeros.push(r.features.temp_max.missing, r.outputs.label.missing)
    }
    expect(Math.abs(mean(errors) - expectedAbsRounded(b))).toBeLessThan((4 * b) / Math.sqrt(errors.length))
    // A true count of 0 is clamped: never negative, and 0 with probability P(round X ≤ 0) = 1 − ½e^{−1/(2b)}.
    expect(Math.min(...zeros)).toBe(0)
    const p0 = 1 - 0.5 * Math.exp(-0.5 / b)
    const atZero = zeros.filter((z) => z === 0).length / zeros.length
    expect(Math.abs(atZero - p0)).toBeLessThan(4 * Math.sqrt((p0 * (1 - p0)) / zeros.length))
  })

  it('clips a histogram to C values, a uniform sample without replacement (missing is a bin)', () => {
    const rand = seededRandom(4)
    const h = { counts: [10, 30, 50], missing: 10 }
    expect(clipHistogram(h, 100, rand)).toEqual(h)
    expect(clipHistogram(h, 1000, rand)).toEqual(h)
    const five = clipHistogram(h, 5, rand)
    expect(five.counts.reduce((a, b) => a + b, 0) + five.missing).toBe(5)
    const n = 20_000
    const hits = [0, 0, 0, 0]
    for (let i = 0; i < n; i++) {
      const one = clipHistogram(h, 1, rand)
      ;[...one.counts, one.missing].forEach((c, j) => (hits[j] += c))
    }
    ;[0.1, 0.3, 0.5, 0.1].forEach((p, j) =>
      expect(Math.abs(hits[j] / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n)),
    )
  })

  it('leaves every field but the histograms as it was, and the input report unchanged', () => {
    const rand = seededRandom(5)
    for (let i = 0; i < 50; i++) {
      const r = makeReport(rand, { model: 'weather', start: T0, rollout: { id: 'r1', arm: 'candidate' } })
      const before = structuredClone(r)
      const noised = privatizeReport(r, { epsilon: 1, clip: 1 }, rand)
      expect(r).toEqual(before)
      const { features, outputs, ...rest } = noised
      const { features: f0, outputs: o0, ...rest0 } = before
      expect(rest).toEqual(rest0)
      expect(Object.keys(features)).toEqual(Object.keys(f0))
      for (const [name, h] of Object.entries({ ...features, ...outputs }))
        expect(h.counts).toHaveLength({ ...f0, ...o0 }[name].counts.length)
      expect(Report.parse(noised)).toEqual(noised)
    }
  })

  it('checks its options: ε in (0, 100], an integer C ≥ 1, a daily budget ≥ ε (default 10 ε)', () => {
    expect(resolveDp({ epsilon: 0.5 })).toEqual({ epsilon: 0.5, clip: 1, dailyBudget: 5 })
    expect(() => resolveDp({ epsilon: 0 })).toThrow(
      expect.objectContaining({ code: 'bad_request', pointer: '/telemetry/dp/epsilon' }),
    )
    expect(() => resolveDp({ epsilon: 101 })).toThrow(expect.objectContaining({ pointer: '/telemetry/dp/epsilon' }))
    expect(() => resolveDp({ epsilon: 1, clip: 0.5 })).toThrow(
      expect.objectContaining({ pointer: '/telemetry/dp/clip' }),
    )
    expect(() => resolveDp({ epsilon: 1, dailyBudget: 0.5 })).toThrow(
      expect.objectContaining({ pointer: '/telemetry/dp/dailyBudget' }),
    )
  })
})

describe('the daily ε budget', () => {
  it('spends until the UTC day is used up, then refuses until the next UTC day; tabs share it', async () => {
    const db = await openDatabase(`dp-budget-${++dbs}`)
    const tabA = new DpBudget(db, 1)
    const tabB = new DpBudget(db, 1)
    const noon = T0 + 2 * 3_600_000
    // Ten spends of 0.1 fit a budget of 1 (float rounding allowed for), from two tabs at once.
    const spends = await Promise.all(draws(14, () => 0).map((_, i) => (i % 2 ? tabA : tabB).spend(0.1, noon)))
    expect(spends.filter(Boolean)).toHaveLength(10)
    expect(await tabA.spent(noon)).toBeCloseTo(1, 12)
    expect(await tabA.spend(0.1, noon + 11 * 3_600_000)).toBe(false)
    const nextDay = Math.floor(noon / DAY) * DAY + DAY
    expect(await tabB.spend(0.1, nextDay)).toBe(true)
    expect(await tabA.spent(nextDay)).toBeCloseTo(0.1, 12)
  })
})

describe('telemetry with dp on', () => {
  it("sends noised histograms until the day's budget is spent, then none, with counts and latency exact", async () => {
    const clock = { t: T0 }
    const rand = seededRandom(6)
    const sent: Batch[] = []
    const given: StatsDelta[] = []
    let from = T0
    const { p, budget } = await dpProcessor(clock, {
      dailyBudget: 3,
      sent,
      deltas: (k) => {
        const d = delta(k, from, clock.t, 5 + given.length, rand)
        from = clock.t
        given.push(d)
        return d
      },
    })
    for (let m = 1; m <= 5; m++) {
      clock.t = T0 + m * WINDOW_MS + 50
      await p.collect()
    }
    await p.flush() // five closed minutes go; the sixth (50 ms old) stays open
    const reports = sent.flatMap((b) => b.reports)
    expect(sent.every((b) => b.dp?.epsilon === 1)).toBe(true)
    expect(reports.map((r) => r.window.start)).toEqual([0, 1, 2, 3, 4].map((m) => T0 + m * WINDOW_MS))
    expect(reports.map((r) => r.counts.inferences)).toEqual(given.slice(0, 5).map((d) => d.inferences))
    expect(reports.map((r) => r.latency)).toEqual(given.slice(0, 5).map((d) => d.latency))
    // Three windows paid for ε = 1 each: noised histograms of the profile's shape; then none.
    expect(reports.map((r) => Object.keys(r.features).length + Object.keys(r.outputs).length)).toEqual([2, 2, 2, 0, 0])
    expect(reports[0].features.temp_max.counts).toHaveLength(3)
    expect(await budget.spent(clock.t)).toBe(3)
    // Noise is there: with C = 1 the exact clipped histograms would hold one value each.
    expect(reports.slice(0, 3).some((r) => histogramTotal(r) !== 2)).toBe(true)
    await p.close()
  })

  it('holds a window open until it closes (one payment per window), and on close sends it', async () => {
    const clock = { t: T0 + 20_000 }
    const rand = seededRandom(7)
    const sent: Batch[] = []
    let from = T0
    const { p, budget } = await dpProcessor(clock, {
      dailyBudget: 10,
      sent,
      deltas: (k) => {
        const d = delta(k, from, clock.t, 3, rand)
        from = clock.t
        return d
      },
    })
    await p.flush() // the minute is still open: nothing is sent or paid
    expect(sent).toHaveLength(0)
    expect(await budget.spent(clock.t)).toBe(0)
    clock.t = T0 + 40_000
    await p.flush()
    expect(sent).toHaveLength(0)
    clock.t = T0 + WINDOW_MS + 50
    await p.flush() // the first minute closed: both of its deltas go in one report, paid once
    expect(sent.flatMap((b) => b.reports).map((r) => [r.window.start, r.counts.inferences])).toEqual([[T0, 9]])
    expect(await budget.spent(clock.t)).toBe(1)
    clock.t = T0 + WINDOW_MS + 30_000
    await p.close() // closing sends the open minute too
    expect(sent.flatMap((b) => b.reports).map((r) => [r.window.start, r.counts.inferences])).toEqual([
      [T0, 9],
      [T0 + WINDOW_MS, 3],
    ])
    expect(await budget.spent(clock.t)).toBe(2)
  })

  it('on pagehide sends sealed windows noised and the open one without histograms, paying nothing more', async () => {
    const clock = { t: T0 + WINDOW_MS + 50 }
    const rand = seededRandom(8)
    const sent: Batch[] = []
    const win = new EventTarget()
    let from = T0
    const { p, budget } = await dpProcessor(clock, {
      dailyBudget: 10,
      sent,
      window: win,
      deltas: (k) => {
        const d = delta(k, from, clock.t, 4, rand)
        from = clock.t
        return d
      },
    })
    await p.collect() // seals [T0, T0 + 1 min)
    clock.t += 20_000
    await p.collect() // the open minute stays open
    expect(await budget.spent(clock.t)).toBe(1)
    win.dispatchEvent(new Event('pagehide'))
    await new Promise((r) => setTimeout(r, 0))
    const reports = sent.flatMap((b) => b.reports)
    expect(reports.map((r) => [r.window.start, Object.keys(r.features).length, r.counts.inferences])).toEqual([
      [T0, 1, 4],
      [T0 + WINDOW_MS, 0, 4],
    ])
    expect(sent[0].dp).toEqual({ epsilon: 1 })
    expect(await budget.spent(clock.t)).toBe(1)
  })

  it('a report without values spends nothing and carries no histograms', async () => {
    const clock = { t: T0 + WINDOW_MS + 50 }
    const sent: Batch[] = []
    const { p, budget } = await dpProcessor(clock, {
      dailyBudget: 10,
      sent,
      // Two attempts that both failed: counted, with no value to add noise to.
      deltas: (k) => ({ ...delta(k, T0, clock.t, 0, seededRandom(9)), inferences: 2, errors: 2 }),
    })
    await p.flush()
    expect(sent.flatMap((b) => b.reports)).toMatchObject([
      { counts: { inferences: 2, errors: 2 }, features: {}, outputs: {} },
    ])
    expect(await budget.spent(clock.t)).toBe(0)
  })
})
