/**
 * The realistic documents behind test/vectors/formats/: the seattle-weather tabular model (profile built
 * from the real vega-datasets CSV, 2012–2014 as training data, 2015 as live traffic), Silero VAD v5 and a
 * tfjs emotion model (real file hashes, sizes and tensor names), and telemetry whose sketches are real
 * `DDSketch.toJSON()` outputs. Every random draw is seeded. Used only by make-format-vectors.ts.
 */
import { createHash } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { parse } from 'csv-parse/sync'
import type { FeatureProfile, Profile, Report, Signature } from '../../core/formats/index.ts'
import { buildProfile, FeatureHistogram, numericProfile } from '../../core/profile/index.ts'
import { DDSketch } from '../../core/sketch/index.ts'
import type { SketchJson } from '../../core/sketch/index.ts'
import { seededNormal, seededRandom } from '../lib/random.ts'

const root = new URL('../../', import.meta.url)
const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex')
const round = (x: number, digits: number) => Number(x.toFixed(digits))

/** A real file shipped in node_modules, as a version lists it. */
function realFile(path: string, relative: string) {
  const url = new URL(relative, root)
  return { path, sha256: sha256(readFileSync(url)), size: statSync(url).size }
}

/** A sketch of seeded lognormal values (median `median`, shape `sigma`), rounded to the timer's 0.1 ms. */
export function latencySketch(count: number, median: number, sigma: number, seed: number): SketchJson {
  const normal = seededNormal(seededRandom(seed))
  const s = new DDSketch()
  for (let i = 0; i < count; i++) s.add(round(median * Math.exp(sigma * normal()), 1))
  return s.toJSON()
}

/** A sketch of the given values, as `DDSketch.toJSON()` encodes them. */
export function sketchOf(values: number[], alpha?: number): SketchJson {
  const s = new DDSketch({ alpha })
  for (const v of values) s.add(v)
  return s.toJSON()
}

// --- seattle-weather: the CSV, a seeded model confidence, month as a category ---------------------
type Row = { date: string; precipitation: number; temp_max: number; temp_min: number; wind: number; weather: string }
const csv = parse(readFileSync(new URL('node_modules/vega-datasets/data/seattle-weather.csv', root)), {
  columns: true,
  cast: true,
}) as Row[]
const confidence = seededRandom(7)
const records = csv.map((r) => ({
  year: Number(r.date.slice(0, 4)),
  precipitation: r.precipitation,
  temp_max: r.temp_max,
  temp_min: r.temp_min,
  wind: r.wind,
  month: Number(r.date.slice(5, 7)),
  weather: r.weather,
  // No model is trained here: the top-class probability is a seeded stand-in in [0.4, 1).
  confidence: round(0.4 + 0.6 * Math.sqrt(confidence()), 3),
}))
const NUMERIC = ['precipitation', 'temp_max', 'temp_min', 'wind'] as const
const LABELS = ['drizzle', 'fog', 'rain', 'snow', 'sun']
const train = records.filter((r) => r.year <= 2014)
const live = records.filter((r) => r.year === 2015)

/** `profile/1` of the 2012–2014 rows, built by the same code as `edgefleet profile`. */
export const seattleProfile: Profile = buildProfile(train, {
  features: [...NUMERIC, 'month'],
  categorical: ['month'],
  outputs: ['weather', 'confidence'],
})

const numericStats = (name: string) => {
  const p = seattleProfile.features[name] as Extract<FeatureProfile, { type: 'numeric' }>
  return { kind: 'standardize' as const, mean: round(p.mean, 4), std: round(p.std, 4) }
}

/** The seattle-weather classifier: four standardized numerics, month one-hot, five classes. */
export const seattleSignature: Signature = {
  kind: 'tabular',
  features: [
    ...NUMERIC.map((name) => ({ name, type: 'numeric' as const, transform: numericStats(name) })),
    {
      name: 'month',
      type: 'categorical',
      categories: Array.from({ length: 12 }, (_, i) => String(i + 1)),
      encoding: 'onehot',
    },
  ],
  input: { name: 'features' },
  output: { kind: 'classes', name: 'probabilities', labels: LABELS, activation: 'softmax' },
}

/** Silero VAD v5 as its ONNX graph declares it (inputs input/state/sr, outputs output/stateN). */
export const vadSignature: Signature = {
  kind: 'tensor',
  inputs: [
    { name: 'input', dtype: 'float32', shape: [null, null] },
    { name: 'state', dtype: 'float32', shape: [2, null, 128] },
    { name: 'sr', dtype: 'int64', shape: [] },
  ],
  outputs: [
    { name: 'output', dtype: 'float32', shape: [null, 1] },
    { name: 'stateN', dtype: 'float32', shape: [null, null, null] },
  ],
}

/** @vladmandic/human's emotion model (tfjs graph): a 64×64 grey face in, seven emotions out. */
export const emotionSignature: Signature = {
  kind: 'tensor',
  inputs: [{ name: 'input_1', dtype: 'float32', shape: ['batch', 64, 64, 1] }],
  outputs: [
    {
      name: 'Identity',
      dtype: 'float32',
      shape: ['batch', 7],
      labels: ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'],
    },
  ],
}

/** Silero VAD per-frame input summaries (`input.mean` …) and speech probability, from seeded audio frames. */
export const vadProfile: Profile = (() => {
  const rand = seededRandom(11)
  const normal = seededNormal(seededRandom(12))
  const columns: Record<string, number[]> = {
    'input.mean': [],
    'input.std': [],
    'input.min': [],
    'input.max': [],
    output: [],
  }
  for (let frame = 0; frame < 400; frame++) {
    const speech = rand() < 0.35
    const level = speech ? 0.05 + 0.15 * rand() : 0.002 + 0.004 * rand()
    const xs = Array.from({ length: 512 }, () => Math.max(-1, Math.min(1, level * normal())))
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length
    columns['input.mean']!.push(mean)
    columns['input.std']!.push(Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length))
    columns['input.min']!.push(Math.min(...xs))
    columns['input.max']!.push(Math.max(...xs))
    columns.output!.push(speech ? 0.7 + 0.3 * rand() : 0.2 * rand())
  }
  const profile = (name: string) => numericProfile(columns[name]!.map((x) => round(x, 6)))
  return {
    v: 1,
    rows: 400,
    features: {
      'input.mean': profile('input.mean'),
      'input.std': profile('input.std'),
      'input.min': profile('input.min'),
      'input.max': profile('input.max'),
    },
    outputs: { output: profile('output') },
  }
})()

// --- files ----------------------------------------------------------------------------------------
/** seattle-weather has no model file in the repo: its digests hash a label, so they are stable. */
export const seattleFile = (version: number) => ({
  path: 'model.onnx',
  sha256: sha256(`seattle-weather v${version} model.onnx`),
  size: 4_213 + 96 * version,
})
export const vadFile = realFile('silero_vad_v5.onnx', 'node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx')
export const emotionFiles = [
  realFile('model.json', 'node_modules/@vladmandic/human/models/emotion.json'),
  realFile('emotion.bin', 'node_modules/@vladmandic/human/models/emotion.bin'),
]
/** The Hugging Face folder of test/fixtures/hf-tiny-bert, with the roles and weight types the registry lists. */
export const hfTinyBertFiles = [
  { ...realFile('config.json', 'test/fixtures/hf-tiny-bert/config.json'), role: 'config' },
  { ...realFile('tokenizer.json', 'test/fixtures/hf-tiny-bert/tokenizer.json'), role: 'tokenizer' },
  {
    ...realFile('tokenizer_config.json', 'test/fixtures/hf-tiny-bert/tokenizer_config.json'),
    role: 'tokenizer-config',
  },
  { ...realFile('onnx/model.onnx', 'test/fixtures/hf-tiny-bert/onnx/model.onnx'), role: 'onnx', dtype: 'fp32' },
  {
    ...realFile('onnx/model_quantized.onnx', 'test/fixtures/hf-tiny-bert/onnx/model_quantized.onnx'),
    role: 'onnx',
    dtype: 'q8',
  },
]
/** A file with its URL on the edge, keeping its Hugging Face role and weight type when it has them. */
export const withHfUrl = (f: { path: string; sha256: string; size: number; role?: string; dtype?: string }) => ({
  ...withUrl(f),
  ...(f.role === undefined ? {} : { role: f.role }),
  ...(f.dtype === undefined ? {} : { dtype: f.dtype }),
})
export const EDGE = 'https://edge.example.com'
export const withUrl = (f: { path: string; sha256: string; size: number }) => ({
  path: f.path,
  url: `${EDGE}/v1/artifacts/${f.sha256}`,
  sha256: f.sha256,
  size: f.size,
})

// --- telemetry ------------------------------------------------------------------------------------
export const WINDOW_START = Date.UTC(2024, 5, 3, 14, 5)
export const ROLLOUT_ID = 'ro_weather_v4_shadow'

/** Feature and output histograms of `count` seeded 2015 rows, binned with the profile's edges. */
export function liveHistograms(count: number, seed: number): Pick<Report, 'features' | 'outputs'> {
  const rand = seededRandom(seed)
  const rows = Array.from({ length: count }, () => live[Math.floor(rand() * live.length)]!)
  const histograms = (profiles: Record<string, FeatureProfile>) =>
    Object.fromEntries(
      Object.entries(profiles).map(([name, p]) => {
        const h = new FeatureHistogram(p)
        for (const r of rows) h.add(r[name as keyof typeof r])
        return [name, h.snapshot()]
      }),
    )
  return { features: histograms(seattleProfile.features), outputs: histograms(seattleProfile.outputs) }
}

/**
 * A typical report of a 20-feature tabular model: one minute, 60 inferences (one a second), each feature
 * binned on 20 quantile bins of a seeded reference, the model loaded in an earlier window (empty loadMs).
 */
export function typicalReport(): Report {
  const names = [
    'age',
    'tenure_months',
    'monthly_charges',
    'total_charges',
    'num_products',
    'support_calls_90d',
    'days_since_login',
    'sessions_30d',
    'avg_session_min',
    'pages_per_session',
    'cart_abandon_rate',
    'discount_share',
    'returns_12m',
    'avg_order_value',
    'orders_12m',
    'email_open_rate',
    'push_open_rate',
    'nps_score',
    'late_payments_12m',
    'credit_utilization',
  ]
  const normal = seededNormal(seededRandom(2048))
  const features: Report['features'] = {}
  for (const name of names) {
    const reference = numericProfile(Array.from({ length: 5_000 }, () => normal()))
    const h = new FeatureHistogram(reference)
    const shift = 0.3 * normal() // live traffic drifts a little
    for (let i = 0; i < 60; i++) h.add(normal() + shift)
    features[name] = h.snapshot()
  }
  const churn = new FeatureHistogram({
    type: 'categorical',
    categories: ['stay', 'churn'],
    counts: [1, 1, 0],
    n: 2,
    missing: 0,
  })
  for (let i = 0; i < 60; i++) churn.add(normal() < 1.2 ? 'stay' : 'churn')
  return {
    model: 'churn-risk',
    version: 12,
    role: 'primary',
    window: { start: WINDOW_START, end: WINDOW_START + 60_000 },
    backend: 'wasm',
    fallbacks: { webgpu: 'unavailable' },
    counts: { inferences: 60, errors: 0, cacheHits: 0, loads: 0 },
    loadMs: sketchOf([]),
    latency: latencySketch(60, 0.9, 0.35, 2049),
    features,
    outputs: { churn: churn.snapshot() },
  }
}

/** The publisher's Sigstore bundle over seattle-weather v4 (scripts/make-signing-fixtures.ts). */
export const seattleBundle = JSON.parse(
  readFileSync(new URL('test/vectors/signing/seattle-weather-v4.bundle.json', root), 'utf8'),
) as Record<string, unknown>
