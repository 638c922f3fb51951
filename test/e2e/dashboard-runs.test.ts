import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FeatureQuality } from '../../core/formats/quality.ts'
import { mergeQualityMaps, observeRow, qualityView, type QualityView } from '../../core/telemetry/quality.ts'
import type { FeatureProfile } from '../../core/formats/profile.ts'
import { chromiumArgs, chromiumPath } from '../../scripts/lib/chromium.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'
import { adminCall, openDashboard, publishBytes, watchedPage, withoutAbsentSlos } from '../helpers/dashboard-page.ts'
import { makeBatch, makeReport, minuteAgo, PROFILE } from '../helpers/telemetry.ts'

// The dashboard's runs view and data-quality panel against a real local edge in Chromium at
// 1280×800: retraining runs recorded through `POST /v1/models/:model/runs` (completed with a
// published version and a rollout, rejected by a gate, failed with an error, and older ones on a
// second page), and devices posting data-quality counts through `POST /v1/telemetry`, read back with
// their exact figures. Screenshots of both views in both themes go to test/artifacts/ (ignored).

const MIN_DEVICES = 3
const DEVICES = 5
const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url))

let dev: WranglerDev
let browser: Browser
let reader: string
let analyst: string
let expected: QualityView
let rolloutId: string
/** Loads the weather devices reported: with abandoned loads (none here), the sessions of the crash rate. */
let weatherLoads = 0
const HEALTH = { deviceLost: 1, oomLoad: 0, oomRun: 1, workerCrash: 2, loadAbandoned: 0 }
const consoleErrors: string[] = []

const call = <T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> =>
  adminCall<T>(dev.url, method, path, body, headers)

const publish = (model: string, bytes: Uint8Array, lineage: Record<string, unknown>): Promise<number> =>
  publishBytes(dev.url, model, bytes, { profile: PROFILE, metrics: { accuracy: 0.842 }, lineage })

const metrics = (accuracy: number) => ({
  accuracy,
  logLoss: 0.4821,
  perClass: { sun: { n: 80, accuracy: accuracy + 0.05 }, rain: { n: 66, accuracy: accuracy - 0.06 } },
  perSlice: { site: { north: { n: 70, accuracy: accuracy + 0.02 }, south: { n: 76, accuracy: accuracy - 0.02 } } },
  trainingMs: 1840,
  bytes: 4512,
  latencyP95Ms: 0.31,
})

/** A run body as the retrainer records it; ids are fixed so failures replay. */
function run(n: number, overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    id: `run_${n.toString(16).padStart(20, '0')}`,
    status: 'rejected',
    trigger: 'manual',
    params: { family: 'lda', seed: n, holdout: 0.2, hyper: { shrinkage: 0.01 } },
    data: {
      name: 'seattle-weather-2013-2015.csv',
      sha256: 'c0ffee'.padEnd(64, '0'),
      rows: 730,
      trainRows: 584,
      holdoutRows: 146,
      label: 'weather',
      features: ['temp_max', 'wind', 'weather'],
    },
    metrics: metrics(0.52),
    champion: { kind: 'version', version: 1, metrics: metrics(0.71) },
    gates: [
      {
        gate: 'accuracy:min',
        value: 0.52,
        limit: 0.6,
        passed: false,
        message: 'accuracy:min: 0.520 < 0.600 on 146 holdout rows',
      },
    ],
    startedAt: Date.now() - 3_600_000 + n * 60_000,
    finishedAt: Date.now() - 3_600_000 + n * 60_000 + 4_200,
    ...overrides,
  }
}

const COMPLETED = run(0xc0, {})
const REJECTED = run(0xb0, {})
const FAILED = run(0xa0, {})

/**
 * Rows a device sees: mostly good, with missing values, NaN and ±Infinity, strings where numbers
 * belong, values far outside the reference range and categories it never saw, at seeded rates.
 */
function deviceRows(rand: () => number, n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, () => {
    const row: Record<string, unknown> = {
      temp_max: rand() * 30,
      wind: rand() * 9,
      weather: rand() < 0.5 ? 'sun' : 'rain',
    }
    const r = rand()
    if (r < 0.04) delete row.temp_max
    else if (r < 0.07) row.temp_max = [Number.NaN, Infinity, -Infinity][Math.floor(rand() * 3)]
    else if (r < 0.09) row.temp_max = '21'
    else if (r < 0.2) row.temp_max = 60 + rand() * 20
    if (rand() < 0.03) row.wind = null
    if (rand() < 0.06) row.weather = 'fog'
    else if (rand() < 0.02) row.weather = 3
    return row
  })
}

/**
 * A page at 1280×800 signed in with `token` and opened at `path` (the token rides in the address once,
 * as `#<path>?token=…`, and is stripped), whose console errors and uncaught exceptions are collected.
 */
async function openPage(token: string, path: string, scheme: 'light' | 'dark' = 'light'): Promise<Page> {
  const page = await watchedPage(browser, consoleErrors, scheme)
  // Until the first view is drawn (its mark), so a later address does not race it.
  await openDashboard(page, `${dev.url}/dashboard/#${path}${path.includes('?') ? '&' : '?'}token=${token}`)
  expect(page.url()).not.toContain('token')
  return page
}

/** Waits for an element of the page; when it never shows, fails with the address and what the view showed. */
async function shown(page: Page, testid: string): Promise<void> {
  await page
    .getByTestId(testid)
    .waitFor()
    .catch(async (e) => {
      throw new Error(`${e}\nat ${page.url()}: ${await page.locator('#app').textContent()}`)
    })
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${artifacts}${name}.png`, fullPage: false })
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true })
  dev = await startWranglerDev({ vars: { TELEMETRY_MIN_DEVICES: String(MIN_DEVICES) } })
  await call('POST', '/v1/models', { name: 'weather', format: 'onnx', task: 'classification' })
  await call('POST', '/v1/models', { name: 'digits', format: 'onnx', task: 'classification' })
  await publish('weather', new Uint8Array([1, 2, 3, 4]), { dataHash: 'sha256:seattle-2012' })
  await call('PUT', '/v1/models/weather/aliases/production', { version: 1 })

  // Eight older rejected runs (the second page), then a failed, a rejected and a completed one.
  for (let i = 1; i <= 8; i++) await call('POST', '/v1/models/weather/runs', run(i, {}))
  await call(
    'POST',
    '/v1/models/weather/runs',
    run(0xa0, {
      status: 'failed',
      metrics: null,
      champion: null,
      gates: [],
      data: { ...(FAILED.data as object), rows: 0, trainRows: 0, holdoutRows: 0 },
      error: 'reading https://data.example/weather.csv: 503 Service Unavailable',
    }),
  )
  await call(
    'POST',
    '/v1/models/weather/runs',
    run(0xb0, {
      trigger: 'evt_0000000000000000b0b0',
      metrics: metrics(0.391),
      gates: [
        {
          gate: 'baseline:minDelta',
          value: -0.069,
          limit: 0.05,
          passed: false,
          message: 'baseline:minDelta: 0.391 is 6.9 points under the majority class (0.460), needs +5.0',
        },
        {
          gate: 'accuracy:minDelta',
          value: -0.319,
          limit: 0.02,
          passed: false,
          message: 'accuracy:minDelta: 0.391 − v1 0.710 = −0.319 < 0.020',
        },
        { gate: 'size:maxBytes', value: 4512, limit: 65536, passed: true, message: 'size:maxBytes: 4512 ≤ 65536' },
      ],
    }),
  )
  await publish('weather', new Uint8Array([5, 6, 7, 8]), {
    parent: 1,
    dataHash: 'sha256:' + 'c0ffee'.padEnd(64, '0'),
    triggerEvent: 'evt_0000000000000000c0c0',
    runId: COMPLETED.id,
    codeCommit: '7e57c0de00',
  })
  rolloutId = (
    await call<{ id: string }>('POST', '/v1/models/weather/rollouts', {
      candidate: 2,
      mode: 'canary',
      steps: [
        { percent: 5, minDevices: 1 },
        { percent: 100, minDevices: 1 },
      ],
    })
  ).id
  await call(
    'POST',
    '/v1/models/weather/runs',
    run(0xc0, {
      status: 'completed',
      trigger: 'evt_0000000000000000c0c0',
      metrics: metrics(0.842),
      gates: [
        {
          gate: 'baseline:minDelta',
          value: 0.382,
          limit: 0.05,
          passed: true,
          message: 'baseline:minDelta: 0.842 − 0.460 = 0.382 ≥ 0.050',
        },
        {
          gate: 'accuracy:minDelta',
          value: 0.132,
          limit: 0.02,
          passed: true,
          message: 'accuracy:minDelta: 0.842 − v1 0.710 = 0.132 ≥ 0.020',
        },
        { gate: 'sliceGap:by=site', value: 0.04, limit: 0.2, passed: true, message: 'sliceGap:by=site: 0.040 ≤ 0.200' },
        { gate: 'latency:maxMs', value: 0.31, limit: 5, passed: true, message: 'latency:maxMs: p95 0.31 ms ≤ 5 ms' },
      ],
      version: 2,
      rollout: rolloutId,
      codeCommit: '7e57c0de00',
    }),
  )

  // Devices of version 1 classify their inputs and post only the counts with their windows.
  const appKey = (await call<{ token: string }>('POST', '/v1/tokens', { name: 'web', scopes: ['device'] })).token
  const rand = seededRandom(7)
  const features = PROFILE.features as unknown as Record<string, FeatureProfile>
  let merged: Record<string, FeatureQuality> = {}
  for (let d = 0; d < DEVICES; d++) {
    const reports = [0, 1].map((i) => {
      const report = makeReport(rand, { model: 'weather', start: minuteAgo(2 + i * 3), inferences: 40 })
      const quality: Record<string, FeatureQuality> = {}
      for (const row of deviceRows(rand, 40)) observeRow(quality, features, row)
      merged = mergeQualityMaps(merged, quality)
      weatherLoads += report.counts.loads
      // One device lost its WebGPU device, ran out of memory once and had its worker crash twice.
      return { ...report, quality, ...(d === 0 && i === 0 ? { health: HEALTH } : {}) }
    })
    const res = await fetch(`${dev.url}/v1/telemetry`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Edgefleet-Key': appKey },
      body: JSON.stringify(makeBatch(`dev_quality_${d}`, reports)),
    })
    expect(res.status, await res.text()).toBe(202)
  }
  expected = qualityView(merged)
  // A second model whose devices report no data-quality counts: the panel's empty state.
  await publish('digits', new Uint8Array([9, 9, 9, 9]), {})
  for (let d = 0; d < MIN_DEVICES; d++) {
    const res = await fetch(`${dev.url}/v1/telemetry`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Edgefleet-Key': appKey },
      body: JSON.stringify(
        makeBatch(`dev_digits_${d}`, [makeReport(rand, { model: 'digits', start: minuteAgo(2), inferences: 20 })]),
      ),
    })
    expect(res.status, await res.text()).toBe(202)
  }
  reader = (await call<{ token: string }>('POST', '/v1/tokens', { name: 'viewer', scopes: ['registry:read'] })).token
  analyst = (await call<{ token: string }>('POST', '/v1/tokens', { name: 'analyst', scopes: ['telemetry:read'] })).token
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs })
})

afterAll(async () => {
  await browser?.close()
  await dev?.stop({ removeState: true })
})

describe('dashboard: runs and data quality', () => {
  it('lists runs newest first with trigger, gates against limits, version, parent and rollout; pages older ones', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const page = await openPage(E2E_ADMIN_TOKEN, `/models/weather`, scheme)
      await page.getByRole('link', { name: 'Retraining runs' }).click()
      await shown(page, 'runs-table')
      const ids = await page
        .locator('[data-testid^="run-row-"]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-testid')!.slice('run-row-'.length)))
      expect(ids).toHaveLength(10)
      expect(ids.slice(0, 3)).toEqual([COMPLETED.id, REJECTED.id, FAILED.id])

      const done = page.getByTestId(`run-row-${COMPLETED.id}`)
      expect(await done.getAttribute('data-status')).toBe('completed')
      expect(await done.locator('[data-trigger]').getAttribute('data-trigger')).toBe('evt_0000000000000000c0c0')
      expect(await done.locator('.gate.pass').count()).toBe(4)
      expect(await done.locator('[data-gate="accuracy:minDelta"]').textContent()).toContain('0.132 vs 0.020')
      expect(await done.getByTestId('run-accuracy').textContent()).toBe('84.2%v1 71.0%')
      expect(await done.getByTestId('run-version').textContent()).toBe('v2 ← v1')
      expect(await done.getByRole('link', { name: rolloutId }).getAttribute('href')).toBe(
        `#/models/weather/rollout?id=${rolloutId}`,
      )

      const rejected = page.getByTestId(`run-row-${REJECTED.id}`)
      expect(await rejected.locator('.gate.fail').count()).toBe(2)
      expect(await rejected.locator('[data-gate="baseline:minDelta"]').textContent()).toContain('-0.069 vs 0.050')
      expect(await rejected.getByTestId('run-version').textContent()).toBe('—')
      expect(await page.getByTestId(`run-row-${FAILED.id}`).textContent()).toContain('no gates run')
      await shot(page, `runs-${scheme}`)

      await page.getByTestId('runs-older').click()
      await shown(page, `run-row-${run(1, {}).id as string}`)
      expect(await page.locator('[data-testid^="run-row-"]').count()).toBe(1)
      expect(await page.getByTestId('runs-older').count()).toBe(0)

      // Filtered by status through the API's own filter: nine rejected runs fit on one page.
      await page.getByTestId('runs-status').selectOption('rejected')
      await page.waitForURL(/status=rejected$/)
      await expect.poll(() => page.locator('[data-testid^="run-row-"]').count()).toBe(9)
      expect(
        new Set(await page.locator('[data-testid^="run-row-"]').evaluateAll((r) => r.map((x) => x.dataset.status))),
      ).toEqual(new Set(['rejected']))
      expect(await page.getByTestId('runs-older').count()).toBe(0)
      await page.getByTestId('runs-status').selectOption('failed')
      await shown(page, `run-row-${FAILED.id as string}`)
      expect(await page.locator('[data-testid^="run-row-"]').count()).toBe(1)
      await page.context().close()
    }
  })

  it("shows a run's steps, gate evidence, metrics beside the champion's, and links to its version", async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const page = await openPage(E2E_ADMIN_TOKEN, `/models/weather/runs`, scheme)
      await page.getByRole('link', { name: COMPLETED.id as string }).click()
      await shown(page, 'run-steps')
      expect(
        await page
          .getByTestId('run-steps')
          .locator('li')
          .evaluateAll((l) => l.map((x) => x.dataset.state)),
      ).toEqual(['done', 'done', 'done', 'done', 'done', 'done'])
      const gates = page.getByTestId('run-gates')
      expect(await gates.locator('tbody tr').count()).toBe(4)
      expect(await gates.locator('tr[data-gate="sliceGap:by=site"] td').allTextContents()).toEqual([
        'sliceGap:by=site',
        '0.0400',
        '0.2000',
        '✓ pass',
        'sliceGap:by=site: 0.040 ≤ 0.200',
      ])
      const m = page.getByTestId('run-metrics')
      expect(await m.locator('thead').textContent()).toContain('champion v1')
      expect(await m.locator('tr', { hasText: 'holdout accuracy' }).locator('td').allTextContents()).toEqual([
        'holdout accuracy',
        '84.20%',
        '71.00%',
      ])
      expect(await page.locator('main').textContent()).toContain('north')
      await shot(page, `run-${scheme}`)
      await page.getByTestId('run-metrics').scrollIntoViewIfNeeded()
      await shot(page, `run-metrics-${scheme}`)

      // The published version opens on the model page, marked, with the run linked back.
      await page.locator('main').getByRole('link', { name: 'v2', exact: true }).first().click()
      await shown(page, 'versions-table')
      const marked = page.locator('tr.marked')
      expect(await marked.getAttribute('data-version')).toBe('2')
      expect(await marked.getByRole('link', { name: /^run_0000/ }).getAttribute('href')).toBe(
        `#/models/weather/runs/${COMPLETED.id as string}`,
      )
      await page.context().close()
    }
  })

  it('shows a rejected run its failed gates and a failed run its error, with the steps it never reached', async () => {
    const page = await openPage(E2E_ADMIN_TOKEN, `/models/weather/runs/${REJECTED.id as string}`)
    await shown(page, 'run-gates')
    expect(await page.locator('h1 .status').textContent()).toBe('rejected')
    expect(await page.getByTestId('run-gates').locator('tr[data-passed="false"]').count()).toBe(2)
    expect(
      await page
        .getByTestId('run-steps')
        .locator('li')
        .evaluateAll((l) => l.map((x) => x.dataset.state)),
    ).toEqual(['done', 'done', 'done', 'failed', 'skipped', 'skipped'])
    await page.goto(`${dev.url}/dashboard/#/models/weather/runs/${FAILED.id as string}`)
    await shown(page, 'run-error')
    expect(await page.getByTestId('run-error').textContent()).toContain('503 Service Unavailable')
    expect(
      await page
        .getByTestId('run-steps')
        .locator('li')
        .evaluateAll((l) => l.map((x) => x.dataset.state)),
    ).toEqual(['failed', 'skipped', 'skipped', 'skipped', 'skipped', 'skipped'])
    await shot(page, 'run-failed-light')
    await page.context().close()
  })

  it("links a run's trigger to the model's retrain events, and each outcome event back to its run", async () => {
    const page = await openPage(E2E_ADMIN_TOKEN, `/models/weather/runs`)
    await page
      .getByTestId(`run-row-${COMPLETED.id as string}`)
      .locator('[data-trigger]')
      .click()
    await shown(page, 'events-table')
    expect(page.url()).toContain('#/events?model=weather&type=retrain.*')
    await expect
      .poll(() =>
        page
          .getByTestId('events-table')
          .locator('tbody tr')
          .evaluateAll((r) => r.map((x) => x.dataset.type)),
      )
      .toContain('retrain.completed')
    const types = await page
      .getByTestId('events-table')
      .locator('tbody tr')
      .evaluateAll((r) => r.map((x) => x.dataset.type))
    expect(new Set(types)).toEqual(new Set(['retrain.completed', 'retrain.rejected', 'retrain.failed']))
    expect(types).toHaveLength(11)
    await page
      .getByTestId('events-table')
      .getByRole('link', { name: `run ${COMPLETED.id as string}` })
      .click()
    await shown(page, 'run-steps')
    expect(page.url()).toContain(`#/models/weather/runs/${COMPLETED.id as string}`)
    await page.context().close()
  })

  it('tells how to start a run when a model has none', async () => {
    const page = await openPage(E2E_ADMIN_TOKEN, `/models/digits/runs`)
    await shown(page, 'runs-empty')
    expect(await page.getByTestId('runs-empty').textContent()).toContain('npx edgefleet retrain digits --data')
    await shot(page, 'runs-empty-light')
    await page.context().close()
  })

  it('shows per-feature data quality with the exact merged counts and the worst feature marked', async () => {
    expect(expected.worst?.feature).toBe('temp_max')
    for (const scheme of ['light', 'dark'] as const) {
      const page = await openPage(E2E_ADMIN_TOKEN, `/fleet/weather?range=3600000`, scheme)
      await shown(page, 'quality-panel')
      for (const [name, q] of Object.entries(expected.features)) {
        const row = page.getByTestId(`quality-row-${name}`)
        const cells = await row
          .locator('td[data-problem]')
          .evaluateAll((tds) =>
            Object.fromEntries(tds.map((td) => [td.getAttribute('data-problem'), Number(td.textContent)])),
          )
        expect(cells).toEqual({
          missing: q.missing,
          nonFinite: q.nonFinite,
          wrongType: q.wrongType,
          outOfRange: q.outOfRange,
          unknownCategory: q.unknownCategory,
        })
        expect(Number(await row.locator('td.num').first().textContent())).toBe(q.rows)
        expect(Number(await row.locator('[data-rate]').getAttribute('data-rate'))).toBeCloseTo(q.rate, 12)
        expect(await row.getAttribute('data-worst')).toBe(String(name === 'temp_max'))
      }
      expect(await page.getByTestId('quality-panel').textContent()).toContain(
        `Worst feature: temp_max · ${(expected.worst!.rate * 100).toFixed(2)}%`,
      )
      await page.getByTestId('quality-panel').scrollIntoViewIfNeeded()
      await shot(page, `quality-${scheme}`)
      await page.context().close()
    }
  })

  it('shows the crash rate with what crashed, and "none reported" for a cohort without health counts', async () => {
    expect(weatherLoads).toBeGreaterThan(0)
    const rate = 4 / weatherLoads
    const page = await openPage(E2E_ADMIN_TOKEN, `/fleet/weather?range=3600000`)
    await shown(page, 'health-stat')
    const stat = page.getByTestId('health-stat')
    expect(Number(await stat.getAttribute('data-crash-rate'))).toBeCloseTo(Math.min(1, rate), 12)
    expect(await stat.locator('strong').textContent()).toBe(
      `${(Math.min(1, rate) * 100).toFixed(2)}% 4 in ${weatherLoads} sessions: ` +
        'WebGPU device lost: 1 · out of memory at run: 1 · worker crash: 2',
    )
    await stat.scrollIntoViewIfNeeded()
    await shot(page, 'health-light')
    await page.context().close()

    const digits = await openPage(E2E_ADMIN_TOKEN, `/fleet/digits?range=3600000`)
    await shown(digits, 'health-stat')
    expect(await digits.getByTestId('health-stat').textContent()).toBe('crash ratenone reported')
    await digits.context().close()
  })

  it('shows the empty quality state for a cohort without counts', async () => {
    const page = await openPage(E2E_ADMIN_TOKEN, `/fleet/digits?range=3600000`)
    await shown(page, 'quality-panel-empty')
    expect(await page.getByTestId('quality-panel-empty').textContent()).toContain('No data-quality counts yet')
    await page.getByTestId('quality-panel').scrollIntoViewIfNeeded()
    await shot(page, 'quality-empty-light')
    await page.context().close()
  })

  it('follows scopes: registry:read sees runs; telemetry:read alone sees quality and no runs', async () => {
    const page = await openPage(reader, `/models/weather/runs`)
    await shown(page, 'runs-table')
    await page.goto(`${dev.url}/dashboard/#/models/weather/runs/${COMPLETED.id as string}`)
    await shown(page, 'run-gates')
    // The rollout the run started opens on its own page, read-only for this token.
    await page.getByTestId('run-steps').getByRole('link', { name: rolloutId }).click()
    await shown(page, 'rollout-timeline')
    expect(page.url()).toContain(`#/models/weather/rollout?id=${rolloutId}`)
    expect(await page.locator('[data-testid^="rollout-action-"]').count()).toBe(0)
    await page.context().close()

    const tpage = await openPage(analyst, `/fleet/weather?range=3600000`)
    await shown(tpage, 'quality-panel')
    expect(await tpage.getByTestId('quality-row-temp_max').getAttribute('data-worst')).toBe('true')
    await tpage.goto(`${dev.url}/dashboard/#/models/weather/runs`)
    await tpage.getByText('Runs need a token with registry:read.').waitFor()
    expect(await tpage.locator('[data-testid="runs-table"]').count()).toBe(0)
    await tpage.context().close()
  })

  it('logged no console error in any view', () => {
    expect(withoutAbsentSlos(consoleErrors)).toEqual([])
  })
})
