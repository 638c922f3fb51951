// What leaves a device: a real Chromium runs the built SDK on a small real ONNX model fed with
// sentinel values that no count could produce (and that data-quality counts must not reveal either). Every byte sent to the edge is recorded on the wire by
// a proxy in front of it (assignment queries, artifact GETs, gzip telemetry batches and the keepalive
// batch a page sends as it goes away, which the browser's own request events do not show), and every
// other request of the browser by its request events. None may carry a sentinel in any textual form,
// and every batch must be `telemetry/1` made only of the key paths whitelisted here.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import type { BrowserContext, Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FleetView } from '../../core/formats/fleet.ts'
import { Batch } from '../../core/formats/telemetry.ts'
import { launchChromium } from '../helpers/browser.ts'
import { createAppKey, publishLinearModel } from '../helpers/edge-seed.ts'
import { recordingProxy, type RecordingProxy } from '../helpers/recording-proxy.ts'
import { openSdkPage, telemetryQueueState } from '../helpers/sdk-page.ts'
import { serveStatic, type StaticServer } from '../helpers/static-server.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'
import { HEALTH_KINDS } from '../../core/health-kinds.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const MIN_DEVICES = 2

// A kiosk model: temperature (standardized), wind (min-max) and the sky (one-hot) → stay or go.
const SIGNATURE = {
  kind: 'tabular',
  features: [
    { name: 'temp_max', type: 'numeric', transform: { kind: 'standardize', mean: 15, std: 7 } },
    { name: 'wind', type: 'numeric', transform: { kind: 'minmax', min: 0, max: 10 } },
    { name: 'sky', type: 'categorical', categories: ['clear', 'cloudy', 'rain'] },
  ],
  input: { name: 'x' },
  output: { kind: 'classes', name: 'probs', labels: ['stay', 'go'], activation: 'none' },
}
const PROFILE = {
  v: 1,
  rows: 100,
  features: {
    temp_max: {
      type: 'numeric',
      edges: [5, 10, 15, 20, 25],
      counts: [10, 15, 25, 25, 15, 10],
      n: 100,
      missing: 0,
      mean: 15,
      std: 7,
      min: -3,
      max: 33,
    },
    wind: {
      type: 'numeric',
      edges: [2, 4, 6, 8],
      counts: [20, 30, 25, 15, 10],
      n: 100,
      missing: 0,
      mean: 4,
      std: 2,
      min: 0,
      max: 10,
    },
    sky: { type: 'categorical', categories: ['clear', 'cloudy', 'rain'], counts: [40, 35, 25, 0], n: 100, missing: 0 },
  },
  outputs: {
    label: { type: 'categorical', categories: ['stay', 'go'], counts: [50, 50, 0], n: 100, missing: 0 },
    confidence: {
      type: 'numeric',
      edges: [0.6, 0.8],
      counts: [40, 40, 20],
      n: 100,
      missing: 0,
      mean: 0.7,
      std: 0.1,
      min: 0.5,
      max: 1,
    },
  },
  // A calibration map, so devices also send calibrated-confidence sums (accuracies 0.25 and 0.75).
  calibration: { method: 'histogram-pav', label: 'go', edges: [0.7], counts: [4, 4], correct: [1, 3] },
}
const FEATURE_NAMES = Object.keys(PROFILE.features)
const OUTPUT_NAMES = Object.keys(PROFILE.outputs)

// Sentinels: values no count, time, id or sketch of this test can take, fed as inputs, as an extra
// field, as the app's user id and inside a refused input.
const NUMBERS = [987654.321, -31415.9265]
const WORD = 'SENTINEL_zq7'
const APP_USER = `${WORD}-user-987654.321@example.com`
/** Every number a leak could show: the value, its float32 rounding, its negation and what featurization makes of it. */
const FORBIDDEN_NUMBERS = NUMBERS.flatMap((x) => [
  x,
  Math.fround(x),
  (x - 15) / 7,
  Math.fround((x - 15) / 7),
  x / 10,
  Math.fround(x / 10),
]).flatMap((x) => [x, -x])
/** Integer parts: a leak rounded or truncated. */
const FORBIDDEN_INTEGERS = new Set(NUMBERS.flatMap((x) => [Math.trunc(x), Math.round(x)]).flatMap((x) => [x, -x]))
/** Textual forms, including the first digits of each number wherever they stand alone. */
const FORBIDDEN_TEXT: RegExp[] = [
  /sentinel/i,
  /zq7@|zq7-user/i,
  /U0VOVElORUxf/, // base64 of "SENTINEL_"
  /53454e54494e454c/i, // hex of "SENTINEL"
  /(?<!\d)987654(?!\d)/,
  /(?<!\d)9\.87654/,
  /(?<!\d)98765\.4/,
  /(?<!\d)141091\./,
  /(?<!\d)31415(?!\d)/,
  /(?<!\d)3\.14159/,
  /(?<!\d)3141\.59/,
  /(?<!\d)4490\.1/,
]

/** The sentinels found in a text (numbers are compared as numbers, so any formatting of them is caught). */
function sentinelsIn(text: string): string[] {
  const found = FORBIDDEN_TEXT.filter((re) => re.test(text)).map(String)
  for (const token of text.match(/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g) ?? []) {
    const x = Number(token)
    if (FORBIDDEN_INTEGERS.has(x) || FORBIDDEN_NUMBERS.some((f) => Math.abs(x - f) <= 1e-6 * Math.abs(f)))
      found.push(token)
  }
  return found
}

/** The key paths a telemetry batch may hold; `<…>` stands for a name checked against the list beside it. */
const SKETCH = ['', '.v', '.alpha', '.zero', '.offset', '.counts', '.counts[]', '.n', '.sum', '.min', '.max']
const BINS = ['', '.counts', '.counts[]', '.missing']
const QUALITY = ['', '.rows', '.missing', '.nonFinite', '.wrongType', '.outOfRange', '.unknownCategory']
const ALLOWED_PATHS = new Set([
  'v',
  'batchId',
  'sentAt',
  'sampleRate',
  'dropped',
  'dropped.<reason>',
  'dp',
  'dp.epsilon',
  'device',
  'device.id',
  'device.sdk',
  'device.app',
  'device.caps',
  'device.caps.webgpu',
  'device.caps.f16',
  'device.caps.webnn',
  'device.caps.deviceMemory',
  'device.caps.cores',
  'device.caps.platform',
  'device.caps.browser',
  'reports',
  'reports[]',
  'reports[].model',
  'reports[].version',
  'reports[].role',
  'reports[].rollout',
  'reports[].rollout.id',
  'reports[].rollout.arm',
  // The version's variant, a name its publisher chose; the edge refuses any the version does not have.
  'reports[].variant',
  'reports[].window',
  'reports[].window.start',
  'reports[].window.end',
  'reports[].backend',
  'reports[].fallbacks',
  'reports[].fallbacks.<backend>',
  'reports[].counts',
  'reports[].counts.inferences',
  'reports[].counts.errors',
  'reports[].counts.cacheHits',
  'reports[].counts.loads',
  ...SKETCH.map((k) => `reports[].loadMs${k}`),
  ...SKETCH.map((k) => `reports[].latency${k}`),
  'reports[].features',
  ...BINS.map((k) => `reports[].features.<feature>${k}`),
  'reports[].outputs',
  ...BINS.map((k) => `reports[].outputs.<output>${k}`),
  'reports[].shadow',
  'reports[].shadow.compared',
  'reports[].shadow.agreed',
  'reports[].shadow.meanAbsDiff',
  'reports[].feedback',
  'reports[].feedback.labeled',
  'reports[].feedback.correct',
  'reports[].quality',
  ...QUALITY.map((k) => `reports[].quality.<feature>${k}`),
  'reports[].calibrated',
  'reports[].calibrated.count',
  'reports[].calibrated.sum',
  'reports[].calibrated.sumSq',
  // Device health: counts of five fixed kinds (docs/device-health.md).
  'reports[].health',
  ...HEALTH_KINDS.map((k) => `reports[].health.${k}`),
])
const NAMES: Record<string, (key: string) => string | undefined> = {
  dropped: (k) => (/^[a-z0-9_]{1,64}$/.test(k) ? '<reason>' : undefined),
  'reports[].fallbacks': (k) => (['webgpu', 'webgl', 'wasm', 'cpu'].includes(k) ? '<backend>' : undefined),
  'reports[].features': (k) => (FEATURE_NAMES.includes(k) ? '<feature>' : undefined),
  'reports[].outputs': (k) => (OUTPUT_NAMES.includes(k) ? '<output>' : undefined),
  'reports[].quality': (k) => (FEATURE_NAMES.includes(k) ? '<feature>' : undefined),
}

/** Every key path of a JSON value, arrays as `[]` and whitelisted names as their placeholder. */
function keyPaths(value: unknown, path = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    out.add(`${path}[]`)
    for (const v of value) keyPaths(v, `${path}[]`, out)
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = path === '' ? (NAMES[path]?.(k) ?? k) : `${path}.${NAMES[path]?.(k) ?? k}`
      out.add(p)
      keyPaths(v, p, out)
    }
  }
  return out
}

describe('what the SDK sends to the edge', () => {
  let dev: WranglerDev
  let site: StaticServer
  let appKey: string
  let edge: RecordingProxy
  let context: BrowserContext
  const dirs: string[] = []
  /** Requests of the browser to anywhere but the edge (the site's pages and the SDK's files). */
  const elsewhere: Promise<{ method: string; url: string; headers: Record<string, string>; body: Buffer | null }>[] = []

  beforeAll(async () => {
    const modelDir = mkdtempSync(join(tmpdir(), 'edgefleet-kiosk-'))
    const profileDir = mkdtempSync(join(tmpdir(), 'edgefleet-privacy-'))
    dirs.push(modelDir, profileDir)

    const seed = async () => {
      dev = await startWranglerDev({ vars: { TELEMETRY_MIN_DEVICES: String(MIN_DEVICES) } })
      await publishLinearModel(dev, modelDir, { model: 'kiosk', seed: 11, signature: SIGNATURE, profile: PROFILE })
      appKey = await createAppKey(dev)
      edge = await recordingProxy(dev.url)
    }
    const open = async () => {
      context = await launchChromium(profileDir)
      context.on('request', (r: Request) => {
        if (!r.url().startsWith(edge.url))
          elsewhere.push(
            r.allHeaders().then((headers) => ({ method: r.method(), url: r.url(), headers, body: r.postDataBuffer() })),
          )
      })
    }
    site = await serveStatic(`${root}test/e2e/pages/plain`, { mounts: { '/sdk/': `${root}dist/sdk` } })
    await Promise.all([seed(), open()])
  }, 240_000)

  afterAll(async () => {
    await context?.close()
    await edge?.close()
    await site?.close()
    await dev?.stop({ removeState: true })
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  it('sends no sentinel in any form, and only whitelisted telemetry/1 keys, through gzip batches and the pagehide batch', async () => {
    const page = await openSdkPage(context, site.url)
    const run = await page.evaluate(
      async ({ endpoint, appKey, appUser, numbers: [big, small], word }) => {
        const g = globalThis as any
        const fleet = g.edgefleet.createFleet({ endpoint, appKey, deviceId: appUser })
        g.fleet = fleet
        const model = await fleet.load('kiosk')
        g.model = model
        const sentinelRows = [
          { temp_max: big, wind: small, sky: word, note: `${word} ${big}` },
          { temp_max: small, wind: big, sky: word.toLowerCase() },
          { temp_max: 12, wind: 3, sky: big },
          { temp_max: String(big), wind: 3, sky: 'clear' },
        ]
        let inferences = 0
        let errors = 0
        for (const row of sentinelRows) if ((await model.predict(row)).version === 1) inferences++
        inferences += (await model.predictBatch([...sentinelRows, { temp_max: 20, wind: 5, sky: 'rain' }])).length
        // Refused inputs (not a record) carrying sentinels: counted as errors, never described.
        for (const bad of [[big, word], word])
          await model.predict(bad).then(
            () => undefined,
            () => errors++,
          )
        const drift = await model.drift()
        await fleet.flush()
        return { deviceId: await fleet.deviceId(), inferences, errors, sky: drift.features.sky }
      },
      { endpoint: edge.url, appKey, appUser: APP_USER, numbers: NUMBERS, word: WORD },
    )
    expect(run).toMatchObject({ inferences: 9, errors: 2 })
    expect(run.deviceId).toMatch(/^h_[A-Za-z0-9_-]{22}$/)
    expect(run.sky).toMatchObject({ n: 9, missing: 0 })
    await expect.poll(async () => (await telemetryQueueState(page)).batches, { timeout: 30_000 }).toBe(0)

    // Now the network drops gzip batches: the next one waits in the queue, and leaving the page sends
    // it uncompressed by keepalive (text/plain, key in the query) within the pagehide budget.
    edge.cut = (r) => r.headers['content-encoding'] === 'gzip'
    await page.evaluate(
      async ({ numbers: [big, small], word }) => {
        const g = globalThis as any
        await g.model.predict({ temp_max: big, wind: small, sky: word })
        await g.model.predict(null).catch(() => undefined)
        await g.fleet.flush()
      },
      { numbers: NUMBERS, word: WORD },
    )
    expect((await telemetryQueueState(page)).batches).toBe(1)
    const isKeepalive = (r: { method: string; path: string }) =>
      r.method === 'POST' && new URL(r.path, edge.url).searchParams.has('key')
    expect(edge.requests.filter(isKeepalive)).toEqual([])
    await page.goto(`${site.url}/index.html?next`)
    await expect.poll(() => edge.requests.find(isKeepalive)?.status, { timeout: 30_000 }).toBe(202)
    edge.cut = null

    for (const r of await Promise.all(elsewhere)) {
      const texts = [
        r.url,
        decodeURIComponent(r.url),
        ...Object.entries(r.headers).flat(),
        r.body?.toString('latin1') ?? '',
      ]
      expect(texts.flatMap(sentinelsIn), `${r.method} ${r.url}`).toEqual([])
    }
    const batches: { via: string; batch: unknown }[] = []
    for (const r of edge.requests) {
      const url = new URL(r.path, edge.url)
      const where = `${r.method} ${r.path}`
      const gzip = r.headers['content-encoding'] === 'gzip' || url.searchParams.get('encoding') === 'gzip'
      const body = gzip ? gunzipSync(r.body) : r.body
      const texts = [
        r.path,
        decodeURIComponent(r.path),
        ...Object.entries(r.headers).flatMap(([k, v]) => [k, String(v)]),
        body.toString('utf8'),
        body.toString('latin1'),
      ]
      expect(texts.flatMap(sentinelsIn), where).toEqual([])
      if (r.method === 'OPTIONS') continue

      // Only the three device routes, with only their own query parameters.
      const query = [...url.searchParams.keys()].sort()
      if (r.method === 'GET' && url.pathname === '/v1/assign/kiosk') {
        expect(query, where).toEqual(['caps', 'device'])
        expect(url.searchParams.get('device')).toBe(run.deviceId)
        for (const part of url.searchParams.get('caps')!.split(','))
          expect(part, where).toMatch(/^(webgpu|f16|mem|cores|platform):[a-z0-9_.-]+$/)
      } else if (r.method === 'GET' && /^\/v1\/artifacts\/[0-9a-f]{64}$/.test(url.pathname)) {
        expect(query, where).toEqual([])
        expect(r.body.length, where).toBe(0)
      } else if (r.method === 'POST' && url.pathname === '/v1/telemetry') {
        expect(
          query.every((k) => k === 'key' || k === 'encoding'),
          where,
        ).toBe(true)
        batches.push({ via: gzip ? 'gzip' : 'keepalive', batch: JSON.parse(body.toString('utf8')) })
      } else throw new Error(`an unexpected request to the edge: ${where}`)
    }

    expect(batches.map((b) => b.via)).toContain('gzip')
    expect(batches.map((b) => b.via)).toContain('keepalive')
    expect(edge.requests.some((r) => r.path.startsWith('/v1/artifacts/'))).toBe(true)
    for (const { via, batch } of batches) {
      const parsed = Batch.safeParse(batch)
      expect(parsed.success, `${via}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true)
      expect(
        [...keyPaths(batch)].filter((p) => !ALLOWED_PATHS.has(p)),
        via,
      ).toEqual([])
      expect(parsed.data!.device.id).toBe(run.deviceId)
      // The browser family is a slice key: one of four words, here computed by Chromium itself.
      expect(parsed.data!.device.caps.browser, via).toBe('chromium')
    }
    const reported = batches.flatMap(({ batch }) => Batch.parse(batch).reports)
    // The queued batch went out twice (refused gzip, then keepalive): count each batch id once.
    const unique = new Map(batches.map(({ batch }) => [Batch.parse(batch).batchId, Batch.parse(batch)]))
    const totals = [...unique.values()]
      .flatMap((b) => b.reports)
      .reduce((a, r) => ({ inferences: a.inferences + r.counts.inferences, errors: a.errors + r.counts.errors }), {
        inferences: 0,
        errors: 0,
      })
    // A refused input counts as an attempted inference and an error (telemetry/1: errors ≤ inferences).
    expect(totals).toEqual({ inferences: run.inferences + 1 + (run.errors + 1), errors: run.errors + 1 })
    expect(new Set(reported.flatMap((r) => Object.keys(r.features)))).toEqual(new Set(FEATURE_NAMES))
    // The sentinels became bin counts and nothing else: unknown skies in `__other__` (the last bin), a
    // number given as a string counted missing.
    const bins = (name: string) =>
      [...unique.values()]
        .flatMap((b) => b.reports)
        .reduce(
          (a, r) => ({
            counts: a.counts.map((c, i) => c + (r.features[name]?.counts[i] ?? 0)),
            missing: a.missing + (r.features[name]?.missing ?? 0),
          }),
          {
            counts: [0, 0, 0, 0, 0, 0].slice(0, PROFILE.features[name as keyof typeof PROFILE.features].counts.length),
            missing: 0,
          },
        )
    expect(bins('sky')).toEqual({ counts: [2, 0, 1, 7], missing: 0 })
    expect(bins('temp_max')).toEqual({ counts: [2, 0, 2, 0, 1, 3], missing: 2 })
    // And into data-quality counts: the sentinel numbers out of range, the number given as a string a
    // wrong type, the sentinel skies unknown categories and a number as the sky a wrong type.
    const quality = (name: string) =>
      [...unique.values()]
        .flatMap((b) => b.reports)
        .reduce(
          (a, r) => {
            const q = r.quality?.[name]
            return q === undefined ? a : Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v + q[k as 'rows']]))
          },
          { rows: 0, missing: 0, nonFinite: 0, wrongType: 0, outOfRange: 0, unknownCategory: 0 } as Record<
            string,
            number
          >,
        )
    const rows = { rows: 10, missing: 0, nonFinite: 0, wrongType: 0, outOfRange: 0, unknownCategory: 0 }
    expect(quality('temp_max')).toEqual({ ...rows, wrongType: 2, outOfRange: 5 })
    expect(quality('wind')).toEqual({ ...rows, outOfRange: 5 })
    expect(quality('sky')).toEqual({ ...rows, wrongType: 2, unknownCategory: 5 })
    // Calibrated confidences leave as three numbers per report: one per answered prediction (the rows
    // counted above; refused inputs have no class), each 0.25 or 0.75.
    const calibrated = [...unique.values()]
      .flatMap((b) => b.reports)
      .flatMap((r) => (r.calibrated ? [r.calibrated] : []))
    expect(calibrated.reduce((a, c) => a + c.count, 0)).toBe(rows.rows)
    for (const c of calibrated) {
      expect(Number.isInteger(c.sum * 4)).toBe(true)
      expect(c.sumSq).toBe(
        ((c.sum - 0.25 * c.count) / 0.5) * 0.5625 + (c.count - (c.sum - 0.25 * c.count) / 0.5) * 0.0625,
      )
    }
  })

  it('suppresses a model seen on fewer devices than k in the fleet view, with no metric at all', async () => {
    const res = await fetch(`${dev.url}/v1/models/kiosk/telemetry`, {
      headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
    })
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(sentinelsIn(text)).toEqual([])
    const view = FleetView.parse(JSON.parse(text))
    expect(view.minDevices).toBe(MIN_DEVICES)
    expect(view.cohorts).toHaveLength(1)
    expect(view.cohorts[0].total).toEqual({
      suppressed: true,
      reason: 'fewer_than_min_devices',
      minDevices: MIN_DEVICES,
    })
    expect(view.cohorts[0].series.every((p) => p.suppressed)).toBe(true)
  })
})
