/** Golden cases of what devices receive and send: telemetry reports and batches, assignments. */
import * as F from '../../core/formats/index.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import type { Report } from '../../core/formats/index.ts'
import * as D from './documents.ts'
import { bad, REMOVE } from './mutate.ts'
import type { Cases } from './mutate.ts'

const window = { start: D.WINDOW_START, end: D.WINDOW_START + 60_000 }
const live = D.liveHistograms(23, 2015)
const primary: Report = {
  model: 'seattle-weather',
  version: 3,
  role: 'primary',
  rollout: { id: D.ROLLOUT_ID, arm: 'candidate' },
  window,
  backend: 'wasm',
  fallbacks: { webgpu: 'unavailable' },
  counts: { inferences: 23, errors: 0, cacheHits: 1, loads: 1 },
  loadMs: D.sketchOf([41.3]),
  latency: D.latencySketch(23, 0.6, 0.4, 23),
  ...live,
}
const shadow: Report = {
  ...primary,
  version: 4,
  role: 'shadow',
  counts: { inferences: 23, errors: 0, cacheHits: 0, loads: 1 },
  loadMs: D.sketchOf([212.8]),
  latency: D.latencySketch(23, 0.7, 0.4, 24),
  ...D.liveHistograms(23, 2015),
  shadow: { compared: 23, agreed: 21, meanAbsDiff: 0.037 },
}
const canary: Report = {
  ...primary,
  version: 4,
  rollout: { id: 'ro_weather_v4_canary', arm: 'candidate' },
  window: { start: D.WINDOW_START + 60_000, end: D.WINDOW_START + 300_000 },
  backend: 'webgpu',
  fallbacks: {},
  counts: { inferences: 58, errors: 1, cacheHits: 1, loads: 1 },
  loadMs: D.sketchOf([388.1]),
  latency: D.latencySketch(57, 0.4, 0.5, 58),
  ...D.liveHistograms(58, 2016),
  feedback: { labeled: 9, correct: 8 },
}
// A WebGPU device lost once, then an out-of-memory inference, and a load a dead tab left (docs/device-health.md).
const healthReport: Report = {
  ...canary,
  window,
  counts: { inferences: 12, errors: 1, cacheHits: 1, loads: 2 },
  loadMs: D.sketchOf([388.1, 61.2]),
  latency: D.latencySketch(12, 0.4, 0.5, 12),
  ...D.liveHistograms(12, 2017),
  feedback: undefined,
  health: { deviceLost: 1, oomLoad: 0, oomRun: 1, workerCrash: 0, loadAbandoned: 1 },
}
delete healthReport.feedback
const vadReport = {
  model: 'silero-vad',
  version: 5,
  role: 'primary',
  window: { start: D.WINDOW_START, end: D.WINDOW_START + 120_000 },
  backend: 'wasm',
  counts: { inferences: 3750, errors: 0, cacheHits: 1, loads: 1 },
  loadMs: D.sketchOf([96.4]),
  latency: D.latencySketch(3750, 0.9, 0.25, 3750),
}
// Seoul Bike Sharing (UCI) columns as its CSV spells them: any name a profile holds can be reported.
const seoulReport = {
  ...vadReport,
  model: 'seoul-bike-demand',
  version: 2,
  window,
  counts: { inferences: 12, errors: 0, cacheHits: 1, loads: 1 },
  loadMs: D.sketchOf([18.9]),
  latency: D.sketchOf([0.3, 0.2, 0.2, 0.3, 0.2, 0.2, 0.4, 0.2, 0.3, 0.2, 0.2, 0.2]),
  features: {
    'Temperature(°C)': { counts: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 4, 2, 2, 0, 0, 0], missing: 0 },
    'Humidity(%)': { counts: [0, 0, 0, 0, 1, 2, 5, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], missing: 0 },
    'Wind speed (m/s)': { counts: [0, 0, 1, 0, 2, 0, 3, 0, 2, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0], missing: 0 },
  },
  outputs: {
    'Rented Bike Count': { counts: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 1, 1, 1, 0, 0], missing: 0 },
  },
}
const device = {
  id: 'dv_7Qm2Vb9Lw1ZpJx3kR8tN',
  caps: { webgpu: false, deviceMemory: 8, cores: 8, platform: 'macos' },
  sdk: '0.1.0',
  app: 'weather-demo',
}
const batch = {
  v: 1,
  batchId: 'b_01HZX3V8K2M9QH4N7TA6',
  sentAt: D.WINDOW_START + 64_120,
  device,
  sampleRate: 1,
  dropped: { too_old: 2 },
  reports: [primary, shadow],
}
const assignment = {
  model: 'seattle-weather',
  version: 4,
  role: 'primary',
  format: 'onnx',
  files: [D.withUrl(D.seattleFile(4))],
  signature: D.seattleSignature,
  profile: D.seattleProfile,
  sigstoreBundle: D.seattleBundle,
  telemetry: { sampleRate: 1, windowSeconds: 60, flushSeconds: 30 },
  rollout: { id: 'ro_weather_v4_canary', arm: 'candidate', mode: 'canary' },
  ttlSeconds: 30,
}
// Invalid cases leave the embedded profile out: profile.invalid.json covers it, and each case stays readable.
const { profile: _assignmentProfile, ...leanAssignment } = assignment

/** Cases per format, keyed by vector file name. */
/** A batch of drops only from a device whose app set a cohort label. */
const dropsWithCohort = {
  ...batch,
  batchId: 'b_01HZX5D0Q7S3UX9F4ZK1',
  device: { ...batch.device, cohort: 'Store.0042:eu' },
  dropped: { queue_overflow: 118, too_old: 4 },
  reports: [],
}

export const DEVICE_CASES: Record<string, Cases> = {
  report: {
    schema: F.Report,
    valid: [
      { name: 'primary, shadow rollout candidate share', value: primary },
      { name: 'shadow run of the candidate', value: shadow },
      { name: 'canary candidate with feedback, 4-minute window', value: canary },
      { name: 'silero-vad, no histograms, defaults filled', value: vadReport },
      { name: 'column names with spaces, units and non-ASCII', value: seoulReport },
      { name: 'device health: a lost WebGPU device, an OOM inference, an abandoned load', value: healthReport },
    ],
    invalid: [
      bad('window not aligned to a minute', primary, '/window/start', D.WINDOW_START + 1_500, '/window'),
      bad('empty window', primary, '/window/end', D.WINDOW_START, '/window'),
      bad('window of two hours', primary, '/window/end', D.WINDOW_START + 7_200_000, '/window'),
      bad('agreed above compared', shadow, '/shadow/agreed', 24),
      bad('correct above labeled', canary, '/feedback/correct', 10),
      bad('free-text fallback reason', primary, '/fallbacks/webgpu', 'navigator.gpu is undefined'),
      bad('unknown backend in fallbacks', primary, '/fallbacks/metal', 'unavailable', '/fallbacks'),
      bad('raw values beside the counts', primary, '/features/wind/values', [3.1, 4.7], '/features/wind'),
      bad('negative inference count', primary, '/counts/inferences', -1),
      bad('unknown arm', primary, '/rollout/arm', 'treatment'),
      bad('broken latency sketch', primary, '/latency/n', 22),
      bad('model name with capitals', primary, '/model', 'Seattle-Weather'),
      bad('version 0', primary, '/version', 0),
      // Bounds: what one device cannot have seen in one window (docs/telemetry.md, "Bounds").
      bad('over a million inferences in one minute', primary, '/counts/inferences', 1_000_001),
      bad('errors beyond inferences and loads', primary, '/counts/errors', 25),
      bad('more cache hits than loads', primary, '/counts/cacheHits', 2),
      bad('more loads than a minute holds', primary, '/counts/loads', 601),
      bad('more latencies than inferences', primary, '/counts/inferences', 22, '/latency/n'),
      bad('a load time of 30 days', primary, '/loadMs', D.sketchOf([2_592_000_000]), '/loadMs/max'),
      bad(
        'more labels than a window holds',
        canary,
        '/feedback',
        { labeled: 5_000_001, correct: 0 },
        '/feedback/labeled',
      ),
      bad('a health kind telemetry/1 does not know', healthReport, '/health/tabCrash', 1, '/health'),
      bad('a negative worker crash count', healthReport, '/health/workerCrash', -1),
      bad('more out-of-memory runs than a minute holds', healthReport, '/health/oomRun', 601),
      bad('more comparisons than inferences', shadow, '/shadow/compared', 24),
      bad('a mean difference of 1e300', shadow, '/shadow/meanAbsDiff', 1e300),
      bad('a histogram bin of 5e15', primary, '/features/temp_max/counts/0', 5e15, '/features/temp_max'),
      bad('a latency sum of 1e308 for 23 values', primary, '/latency/sum', 1e308),
      bad('a latency count of 5e15', vadReport, '/latency', new DDSketch().add(5, 5e15).toJSON(), '/latency/n'),
      bad(
        'bins at 1e15 with min = max = 1e300',
        primary,
        '/latency',
        {
          v: 1,
          alpha: 0.01,
          zero: 0,
          offset: 1e15,
          counts: [23],
          n: 23,
          sum: 2.3e301,
          min: 1e300,
          max: 1e300,
        },
        '/latency/offset',
      ),
    ],
  },
  batch: {
    schema: F.Batch,
    valid: [
      { name: 'primary and shadow reports of one device', value: batch },
      {
        name: 'sampled with local DP, defaults filled',
        value: {
          v: 1,
          batchId: 'b_01HZX4C1N5R2TW8E3YJ0',
          sentAt: D.WINDOW_START + 181_002,
          device: { ...device, caps: { webgpu: true, f16: true } },
          sampleRate: 0.1,
          dp: { epsilon: 1 },
          reports: [canary],
        },
      },
      {
        name: 'drops only',
        value: {
          ...batch,
          batchId: 'b_01HZX5D0Q7S3UX9F4ZK1',
          dropped: { queue_overflow: 118, too_old: 4 },
          reports: [],
        },
      },
      { name: 'drops only, from a device with its cohort label', value: dropsWithCohort },
      {
        name: 'from a device that exposes WebNN',
        value: {
          ...batch,
          batchId: 'b_01HZX6E2R8T4VY0G5ZL2',
          device: { ...device, caps: { webgpu: false, webnn: true } },
        },
      },
    ],
    invalid: [
      bad('sampleRate 0', batch, '/sampleRate', 0),
      bad('sampleRate 5e-324', batch, '/sampleRate', 5e-324),
      bad('sampleRate below the 0.001 floor', batch, '/sampleRate', 0.0009),
      bad('sampleRate off the 0.001 grid', batch, '/sampleRate', 0.1234),
      bad('format version 2', batch, '/v', 2),
      bad('e-mail as device id', batch, '/device/id', 'ana@example.com'),
      bad('webgpu capability missing', batch, '/device/caps/webgpu', REMOVE),
      bad('webnn capability as text', batch, '/device/caps/webnn', 'yes'),
      bad('negative drop count', batch, '/dropped/too_old', -2),
      bad('drop reason in prose', batch, '/dropped/Queue Overflow', 3),
      bad('sentAt as an ISO string', batch, '/sentAt', '2024-06-03T14:06:04.120Z'),
      bad('dp epsilon 0', batch, '/dp', { epsilon: 0 }, '/dp/epsilon'),
      bad('short batch id', batch, '/batchId', 'b_1'),
      bad(
        'misaligned window in the second report',
        batch,
        '/reports/1/window/end',
        D.WINDOW_START + 59_999,
        '/reports/1/window',
      ),
      bad('a cohort label with spaces', dropsWithCohort, '/device/cohort', 'a store with spaces'),
    ],
  },
  assignment: {
    schema: F.Assignment,
    valid: [
      { name: 'seattle-weather canary candidate', value: assignment },
      {
        name: 'seattle-weather baseline with a shadow candidate',
        value: {
          ...assignment,
          version: 3,
          files: [D.withUrl(D.seattleFile(3))],
          rollout: { id: D.ROLLOUT_ID, arm: 'candidate', mode: 'shadow' },
          shadow: {
            version: 4,
            format: 'onnx',
            files: [D.withUrl(D.seattleFile(4))],
            signature: D.seattleSignature,
            sigstoreBundle: D.seattleBundle,
            sampleRate: 1,
          },
        },
      },
      {
        name: 'silero-vad, sampled telemetry',
        value: {
          model: 'silero-vad',
          version: 5,
          role: 'primary',
          format: 'onnx',
          files: [D.withUrl(D.vadFile)],
          signature: D.vadSignature,
          profile: D.vadProfile,
          telemetry: { sampleRate: 0.05, windowSeconds: 300, flushSeconds: 60 },
          ttlSeconds: 60,
        },
      },
      {
        name: 'silero-vad, its fp16 variant for WebGPU with shader-f16',
        value: {
          model: 'silero-vad',
          version: 6,
          role: 'primary',
          format: 'onnx',
          files: [D.withUrl(D.vadFile)],
          variant: 'fp16',
          backends: ['webgpu'],
          telemetry: { sampleRate: 0.05, windowSeconds: 300, flushSeconds: 60 },
          ttlSeconds: 60,
        },
      },
      {
        name: 'face-emotion tfjs graph, two files',
        value: {
          model: 'face-emotion',
          version: 2,
          role: 'primary',
          format: 'tfjs-graph',
          files: D.emotionFiles.map(D.withUrl),
          signature: D.emotionSignature,
          telemetry: { sampleRate: 0.25, windowSeconds: 60, flushSeconds: 30 },
          ttlSeconds: 30,
        },
      },
      {
        name: 'hf-tiny-bert Hugging Face folder, files by role and dtype',
        value: {
          model: 'hf-tiny-bert',
          version: 1,
          role: 'primary',
          format: 'hf-onnx',
          files: D.hfTinyBertFiles.map(D.withHfUrl),
          telemetry: { sampleRate: 1, windowSeconds: 60, flushSeconds: 30 },
          ttlSeconds: 30,
        },
      },
    ],
    invalid: [
      bad('path traversal in a file path', leanAssignment, '/files/0/path', '../../model.onnx'),
      bad('absolute file path', leanAssignment, '/files/0/path', '/model.onnx'),
      bad('uppercase sha256', leanAssignment, '/files/0/sha256', D.seattleFile(4).sha256.toUpperCase()),
      bad('no files', leanAssignment, '/files', []),
      bad('ttl above 60 s', leanAssignment, '/ttlSeconds', 300),
      bad('sampleRate 0', leanAssignment, '/telemetry/sampleRate', 0),
      bad('window of 30 s', leanAssignment, '/telemetry/windowSeconds', 30),
      bad('rollout without mode', leanAssignment, '/rollout/mode', REMOVE),
      bad('rollout id telemetry cannot carry', leanAssignment, '/rollout/id', 'ro:weather/v4'),
      bad('tflite format', leanAssignment, '/format', 'tflite'),
      bad('file role the SDK does not know', leanAssignment, '/files/0/role', 'vocab'),
      bad('dtype transformers.js does not name', leanAssignment, '/files/0/dtype', 'float16'),
      bad('variant name with a space', leanAssignment, '/variant', 'fp 16'),
      bad('variant backends empty', leanAssignment, '/backends', []),
    ],
  },
}
