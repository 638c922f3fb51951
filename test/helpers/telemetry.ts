import { DDSketch } from '../../core/sketch/DDSketch.ts'
import type { Batch, Report } from '../../core/formats/telemetry.ts'

/** Seeded telemetry/1 material for tests in every runtime (no Workers or Node APIs). */

/** A small profile: two numeric features, a categorical one, and a class output. */
export const PROFILE = {
  v: 1,
  rows: 100,
  features: {
    temp_max: {
      type: 'numeric',
      edges: [10, 20],
      counts: [30, 40, 30],
      n: 100,
      missing: 0,
      mean: 15,
      std: 6,
      min: 0,
      max: 30,
    },
    wind: {
      type: 'numeric',
      edges: [2, 4, 6],
      counts: [25, 25, 25, 25],
      n: 100,
      missing: 0,
      mean: 4,
      std: 2,
      min: 0,
      max: 9,
    },
    weather: { type: 'categorical', categories: ['sun', 'rain'], counts: [50, 40, 10], n: 100, missing: 0 },
  },
  outputs: { label: { type: 'categorical', categories: ['sun', 'rain'], counts: [55, 45, 0], n: 100, missing: 0 } },
} as const

const BINS = { temp_max: 3, wind: 4, weather: 3 } as const
const MINUTE = 60_000

/** The UTC minute `minutesAgo` before now. */
export function minuteAgo(minutesAgo: number, now = Date.now()): number {
  return Math.floor(now / MINUTE) * MINUTE - minutesAgo * MINUTE
}

/** Options of a generated report. */
export interface ReportOptions {
  model: string
  version?: number
  start: number
  role?: 'primary' | 'shadow'
  rollout?: { id: string; arm: 'baseline' | 'candidate' }
  /** Shifts temp_max towards its top bin (drift). */
  drift?: boolean
  inferences?: number
}

/** A random but valid report from a seeded source. */
export function makeReport(rand: () => number, o: ReportOptions): Report {
  const n = o.inferences ?? 1 + Math.floor(rand() * 40)
  const latency = new DDSketch()
  for (let i = 0; i < n; i++) latency.add(0.2 + rand() * 5)
  const loadMs = new DDSketch()
  const loads = rand() < 0.3 ? 1 : 0
  if (loads) loadMs.add(20 + rand() * 200)
  const hist = (bins: number, skew = false) => {
    const counts = new Array<number>(bins).fill(0)
    for (let i = 0; i < n; i++) counts[skew ? bins - 1 : Math.floor(rand() * bins)]++
    return { counts, missing: rand() < 0.1 ? 1 : 0 }
  }
  const errors = Math.floor(rand() * 2)
  const labeled = Math.floor(rand() * n)
  return {
    model: o.model,
    version: o.version ?? 1,
    role: o.role ?? 'primary',
    ...(o.rollout ? { rollout: o.rollout } : {}),
    window: { start: o.start, end: o.start + MINUTE },
    backend: rand() < 0.7 ? 'wasm' : 'webgpu',
    fallbacks: rand() < 0.5 ? { webgpu: 'not_available' } : {},
    counts: { inferences: n, errors, cacheHits: loads && rand() < 0.5 ? 1 : 0, loads },
    loadMs: loadMs.toJSON(),
    latency: latency.toJSON(),
    features: { temp_max: hist(BINS.temp_max, o.drift), wind: hist(BINS.wind), weather: hist(BINS.weather) },
    outputs: { label: hist(3) },
    ...(rand() < 0.5 ? { shadow: { compared: n, agreed: Math.floor(n * rand()), meanAbsDiff: rand() } } : {}),
    ...(labeled > 0 ? { feedback: { labeled, correct: Math.floor(labeled * rand()) } } : {}),
  }
}

/** A batch of reports from one device. */
export function makeBatch(
  deviceId: string,
  reports: Report[],
  batchId = `b_${crypto.randomUUID().replaceAll('-', '')}`.slice(0, 40),
): Batch {
  return {
    v: 1,
    batchId,
    sentAt: Date.now(),
    device: { id: deviceId, caps: { webgpu: false }, sdk: '0.1.0' },
    sampleRate: 1,
    dropped: {},
    reports,
  }
}
