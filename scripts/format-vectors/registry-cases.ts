/** Golden cases of the registry API: model, version, alias, event and token bodies and resources. */
import * as F from '../../core/formats/index.ts'
import * as D from './documents.ts'
import { bad, REMOVE } from './mutate.ts'
import type { Cases } from './mutate.ts'

const seattleModel = {
  name: 'seattle-weather',
  task: 'classification',
  format: 'onnx',
  signature: D.seattleSignature,
  description: 'Daily weather class from precipitation, temperatures, wind and month.',
}
const publish = {
  files: [D.seattleFile(4)],
  signature: D.seattleSignature,
  profile: D.seattleProfile,
  metrics: { accuracy: 0.8493, macro_f1: 0.6121, log_loss: 0.4217 },
  lineage: {
    parent: 3,
    dataHash: `sha256:${D.seattleFile(0).sha256}`,
    codeCommit: '9f2c4e1',
    triggerEvent: 'evt_4f1c9a0b7d2e6c3a8b51',
    runId: 'run_5e0c1f9a7b3d2e6c4a81',
    notes: 'retrained on 2012-2014 after temp_max drift',
  },
  sigstoreBundle: D.seattleBundle,
}
const lineage = { ...publish.lineage, createdBy: 'ci-publisher', createdAt: Date.UTC(2024, 5, 1, 9, 30) }
const manifest = {
  model: 'seattle-weather',
  version: 4,
  format: 'onnx',
  files: publish.files.map(D.withUrl),
  signature: D.seattleSignature,
  profile: D.seattleProfile,
  interface: {
    inputs: [{ name: 'features', dtype: 'float32', shape: ['batch', 4] }],
    outputs: [{ name: 'weather', dtype: 'float32', shape: ['batch', 5] }],
  },
  sigstoreBundle: D.seattleBundle,
  metrics: publish.metrics,
  lineage,
  deprecated: false,
  deprecatedAt: null,
  aliases: ['staging'],
}
const emotionManifest = {
  model: 'face-emotion',
  version: 2,
  format: 'tfjs-graph',
  files: D.emotionFiles.map(D.withUrl),
  signature: D.emotionSignature,
  profile: null,
  interface: null,
  sigstoreBundle: null,
  metrics: {},
  lineage: { createdBy: 'admin', createdAt: Date.UTC(2024, 2, 14, 16, 0) },
  deprecated: true,
  deprecatedAt: Date.UTC(2024, 4, 2, 8, 12),
  aliases: [],
}
// Invalid cases leave the embedded profile out: profile.invalid.json covers it, and each case stays readable.
const { profile: _publishProfile, ...leanPublish } = publish
const leanManifest = { ...manifest, profile: null }
const event = {
  id: 'evt_4f1c9a0b7d2e6c3a8b51',
  seq: 1042,
  type: 'alias.moved',
  model: 'seattle-weather',
  actor: 'ci-publisher',
  at: Date.UTC(2024, 5, 1, 9, 41),
  details: { alias: 'production', to: 4 },
}
const rollbackEvent = {
  id: 'evt_0a9e3c7b1d5f2e8c4a60',
  seq: 1107,
  type: 'rollout.rolled_back',
  model: 'seattle-weather',
  actor: 'ModelControl',
  at: Date.UTC(2024, 5, 3, 15, 2),
  details: {
    rollout: 'ro_weather_v4_canary',
    step: 1,
    reason: 'guardrail',
    evidence: { metric: 'error_rate', candidate: 0.021, baseline: 0.004, pValue: 0.0031 },
  },
}
const token = {
  id: 'tok_3b9f0c2a7e41d865',
  name: 'weather-demo web',
  scopes: ['device'],
  origins: ['https://weather.example.com'],
  createdAt: Date.UTC(2024, 4, 20, 10, 0),
  createdBy: 'admin',
  lastUsedAt: Date.UTC(2024, 5, 3, 14, 6),
  revokedAt: null,
}

const runMetrics = {
  accuracy: 0.6712,
  logLoss: 0.8123,
  perClass: { rain: { n: 61, accuracy: 0.918 }, sun: { n: 64, accuracy: 0.703 }, fog: { n: 9, accuracy: 0 } },
  perSlice: { month: { '1': { n: 24, accuracy: 0.75 }, '7': { n: 26, accuracy: 0.654 } } },
  trainingMs: 41,
  bytes: 412,
  latencyP95Ms: 0.21,
}
const { trainingMs: _trainingMs, ...championMetrics } = runMetrics
const run = {
  id: 'run_5e0c1f9a7b3d2e6c4a81',
  status: 'completed',
  trigger: 'evt_4f1c9a0b7d2e6c3a8b51',
  params: { family: 'lda', seed: 1, holdout: 0.2, hyper: { shrinkage: 0.01 } },
  data: {
    name: 'seattle-weather-2013-2015.csv',
    sha256: D.seattleFile(0).sha256,
    rows: 1095,
    trainRows: 876,
    holdoutRows: 219,
    label: 'weather',
    features: ['precipitation', 'temp_max', 'temp_min', 'wind'],
  },
  metrics: runMetrics,
  champion: { kind: 'version', version: 3, metrics: { ...championMetrics, accuracy: 0.5936 } },
  gates: [
    {
      gate: 'baseline:minDelta',
      value: 0.2146,
      limit: 0.05,
      passed: true,
      message: 'baseline:minDelta +0.215 ≥ +0.050',
    },
    { gate: 'accuracy:minDelta', value: 0.0776, limit: 0, passed: true, message: 'accuracy:minDelta +0.078 ≥ +0.000' },
  ],
  version: 4,
  rollout: 'ro_weather_v4',
  codeCommit: '9f2c4e1',
  error: null,
  startedAt: Date.UTC(2024, 5, 1, 9, 20),
  finishedAt: Date.UTC(2024, 5, 1, 9, 21),
}
const leanRun = JSON.parse(JSON.stringify(run))

/** Cases per format, keyed by vector file name. */
export const REGISTRY_CASES: Record<string, Cases> = {
  'create-model': {
    schema: F.CreateModel,
    valid: [
      { name: 'seattle-weather with signature', value: seattleModel },
      { name: 'name and format only, defaults filled', value: { name: 'silero-vad', format: 'onnx' } },
    ],
    invalid: [
      bad('name with spaces and capitals', seattleModel, '/name', 'Seattle Weather'),
      bad('pytorch format', seattleModel, '/format', 'pytorch'),
      bad('version given at creation', seattleModel, '/version', 1, ''),
      bad('bad signature inside', seattleModel, '/signature/output/activation', 'relu'),
    ],
  },
  'publish-version': {
    schema: F.PublishVersion,
    valid: [
      { name: 'seattle-weather v4 with profile, metrics, lineage', value: publish },
      {
        name: 'face-emotion tfjs files only, defaults filled',
        value: { files: D.emotionFiles, signature: D.emotionSignature },
      },
      {
        name: 'with the interface the model file declares, replacing an incompatible one on purpose',
        value: { ...leanPublish, interface: manifest.interface, allowInterfaceChange: true },
      },
      {
        name: 'variants: fp16 for WebGPU with shader-f16, the default for every other device',
        value: {
          files: D.emotionFiles,
          variants: [
            {
              name: 'fp16',
              files: D.emotionFiles.map((f) => f.path),
              requires: { webgpu: true, f16: true, backends: ['webgpu'] },
            },
            { name: 'default', files: D.emotionFiles.map((f) => f.path) },
          ],
        },
      },
    ],
    invalid: [
      bad('path traversal', leanPublish, '/files/0/path', '../shared/model.onnx'),
      bad('Windows path', { files: D.emotionFiles }, '/files/1/path', 'weights\\emotion.bin'),
      bad('same path twice', { files: D.emotionFiles }, '/files/1/path', 'model.json', '/files'),
      bad('SHA-1 instead of SHA-256', leanPublish, '/files/0/sha256', D.seattleFile(4).sha256.slice(0, 40)),
      bad('negative size', leanPublish, '/files/0/size', -1),
      bad('no files', leanPublish, '/files', []),
      bad(
        'variant with an empty requires',
        { files: D.emotionFiles },
        '/variants',
        [{ name: 'a', files: ['model.json'], requires: {} }],
        '/variants/0/requires',
      ),
      bad('NaN metric (serialized as null)', leanPublish, '/metrics/log_loss', null),
      bad('parent version 0', leanPublish, '/lineage/parent', 0),
      bad('bundle without its envelope', leanPublish, '/sigstoreBundle/dsseEnvelope', REMOVE),
      bad('url in a publish request', leanPublish, '/files/0/url', `${D.EDGE}/v1/artifacts/x`, '/files/0'),
      bad(
        'interface dtype in capitals',
        { ...leanPublish, interface: manifest.interface },
        '/interface/inputs/0/dtype',
        'FLOAT',
      ),
      bad(
        'interface dims negative',
        { ...leanPublish, interface: manifest.interface },
        '/interface/inputs/0/shape/1',
        -1,
      ),
    ],
  },
  manifest: {
    schema: F.Manifest,
    valid: [
      { name: 'seattle-weather v4', value: manifest },
      { name: 'deprecated tfjs version without profile', value: emotionManifest },
      { name: 'field from a newer edge is dropped', value: { ...emotionManifest, downloads: 5120 } },
      {
        name: 'Hugging Face folder, files by role and dtype',
        value: {
          ...emotionManifest,
          model: 'hf-tiny-bert',
          version: 1,
          format: 'hf-onnx',
          files: D.hfTinyBertFiles.map(D.withHfUrl),
          signature: null,
          deprecated: false,
          deprecatedAt: null,
        },
      },
    ],
    invalid: [
      bad('path traversal in a file', leanManifest, '/files/0/path', '../../etc/passwd'),
      bad('profile missing instead of null', leanManifest, '/profile', REMOVE),
      bad('interface missing instead of null', leanManifest, '/interface', REMOVE),
      bad('sigstoreBundle missing instead of null', leanManifest, '/sigstoreBundle', REMOVE),
      bad(
        'bundle without a signature',
        leanManifest,
        '/sigstoreBundle/dsseEnvelope/signatures',
        [],
        '/sigstoreBundle/dsseEnvelope/signatures',
      ),
      bad('deprecatedAt as ISO string', emotionManifest, '/deprecatedAt', '2024-05-02T08:12:00Z'),
      bad('version 0', leanManifest, '/version', 0),
      bad('unknown file role', leanManifest, '/files/0/role', 'weights'),
    ],
  },
  'move-alias': {
    schema: F.MoveAlias,
    valid: [{ name: 'production to 4', value: { version: 4 } }],
    invalid: [
      { name: 'version as string', value: { version: '4' }, pointer: '/version' },
      { name: 'alias in the body', value: { version: 4, alias: 'production' }, pointer: '' },
    ],
  },
  'patch-version': {
    schema: F.PatchVersion,
    valid: [{ name: 'deprecate', value: { deprecated: true } }],
    invalid: [{ name: 'un-deprecate', value: { deprecated: false }, pointer: '/deprecated' }],
  },
  event: {
    schema: F.Event,
    valid: [
      { name: 'alias moved', value: event },
      { name: 'rollout rolled back with evidence', value: rollbackEvent },
    ],
    invalid: [
      bad('at in seconds as float', event, '/at', 1717234860.5),
      bad('details as a string', event, '/details', 'alias production -> 4'),
    ],
  },
  'event-page': {
    schema: F.EventPage,
    valid: [
      { name: 'page with more after it', value: { events: [event, rollbackEvent], next: '1107', hasMore: true } },
      { name: 'last page keeps its cursor', value: { events: [rollbackEvent], next: '1107', hasMore: false } },
      { name: 'empty log', value: { events: [], next: null, hasMore: false } },
    ],
    invalid: [
      { name: 'numeric cursor', value: { events: [event], next: 1042, hasMore: false }, pointer: '/next' },
      { name: 'no hasMore', value: { events: [event], next: '1042' }, pointer: '/hasMore' },
    ],
  },
  'create-token': {
    schema: F.CreateToken,
    valid: [
      {
        name: 'app key for one origin',
        value: { name: 'weather-demo web', scopes: ['device'], origins: ['https://weather.example.com'] },
      },
      { name: 'CI publisher', value: { name: 'ci-publisher', scopes: ['registry:read', 'registry:write'] } },
    ],
    invalid: [
      {
        name: 'device scope mixed with others',
        value: { name: 'weather-demo web', scopes: ['device', 'telemetry:read'] },
        pointer: '/scopes',
      },
      { name: 'unknown scope', value: { name: 'ci-publisher', scopes: ['write'] }, pointer: '/scopes/0' },
      {
        name: 'origin with a path',
        value: { name: 'weather-demo web', scopes: ['device'], origins: ['https://weather.example.com/'] },
        pointer: '/origins/0',
      },
      { name: 'no scopes', value: { name: 'ci-publisher', scopes: [] }, pointer: '/scopes' },
      { name: 'newline in name', value: { name: 'ci\npublisher', scopes: ['admin'] }, pointer: '/name' },
    ],
  },
  token: {
    schema: F.Token,
    valid: [
      { name: 'app key in use', value: token },
      {
        name: 'revoked admin token',
        value: {
          ...token,
          id: 'tok_8e2d5a1f0c9b7346',
          name: 'ops laptop',
          scopes: ['admin'],
          origins: null,
          lastUsedAt: null,
          revokedAt: Date.UTC(2024, 5, 2, 12, 0),
        },
      },
    ],
    invalid: [
      bad('origins missing instead of null', token, '/origins', REMOVE),
      bad('unknown scope', token, '/scopes/0', 'app'),
    ],
  },
  'created-token': {
    schema: F.CreatedToken,
    valid: [
      {
        name: 'secret shown once',
        value: { ...token, lastUsedAt: null, token: 'ef_q3VJ8mZ0b1xT7cKp2nWd9yHs4aLr6uEg5oFi0jNkQwM' },
      },
    ],
    invalid: [bad('secret missing', { ...token, lastUsedAt: null }, '/token', REMOVE)],
  },
  model: {
    schema: F.Model,
    valid: [
      {
        name: 'seattle-weather with aliases',
        value: {
          ...seattleModel,
          createdAt: Date.UTC(2024, 0, 8, 11, 0),
          createdBy: 'admin',
          latestVersion: 4,
          aliases: { production: 3, staging: 4 },
        },
      },
      {
        name: 'new model, no versions yet',
        value: {
          name: 'silero-vad',
          task: 'generic',
          format: 'onnx',
          signature: null,
          description: '',
          createdAt: Date.UTC(2024, 5, 3, 9, 0),
          createdBy: 'admin',
          latestVersion: null,
          aliases: {},
        },
      },
    ],
    invalid: [
      bad(
        'alias to a version name',
        { ...seattleModel, createdAt: 0, createdBy: 'admin', latestVersion: 4, aliases: { production: 3 } },
        '/aliases/production',
        'v3',
      ),
    ],
  },
  'create-run': {
    schema: F.CreateRun,
    valid: [
      { name: 'a completed run triggered by drift, published and rolled out', value: leanRun },
      {
        name: 'a manual run rejected by a gate against the majority-class predictor, defaults filled',
        value: JSON.parse(
          JSON.stringify({
            ...leanRun,
            status: 'rejected',
            trigger: 'manual',
            champion: { kind: 'majority', version: null, metrics: { accuracy: 0.4384, logLoss: 1.31, perClass: {} } },
            gates: [{ gate: 'baseline:minDelta', value: -0.02, limit: 0.05, passed: false, message: 'baseline' }],
            version: undefined,
            rollout: undefined,
            codeCommit: undefined,
            error: undefined,
          }),
        ),
      },
    ],
    invalid: [
      bad('a short run id', leanRun, '/id', 'run_5e0c'),
      bad('a trigger that is neither an event nor manual', leanRun, '/trigger', 'webhook'),
      bad('an unknown status', leanRun, '/status', 'running'),
      bad('holdout share of 1', leanRun, '/params/holdout', 1),
      bad('accuracy above 1', leanRun, '/metrics/accuracy', 1.2),
      bad('data hash not SHA-256', leanRun, '/data/sha256', 'md5:abc'),
      bad('a gate without its limit', leanRun, '/gates/0/limit', REMOVE),
    ],
  },
  run: {
    schema: F.Run,
    valid: [{ name: 'a recorded run', value: { ...leanRun, model: 'seattle-weather', createdAt: 1, createdBy: 'ci' } }],
    invalid: [bad('no model', { ...leanRun, createdAt: 1, createdBy: 'ci' }, '/model', REMOVE)],
  },
}
