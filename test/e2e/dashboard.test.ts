import { mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'csv-parse/sync'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { binIndex } from '../../core/profile/bin.ts'
import { chromiumArgs, chromiumPath } from '../../scripts/lib/chromium.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { makeBatch, makeReport, minuteAgo } from '../helpers/telemetry.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'
import { adminCall, publishBytes, watchedPage, withoutAbsentSlos } from '../helpers/dashboard-page.ts'

// The dashboard against a real local edge in a real Chromium at 1280×800: sign-in, models, a
// rollout started from the form and rolled back from its button, drift read from posted telemetry,
// scopes hiding buttons, and no console error anywhere. Screenshots go to test/artifacts/ (ignored).

const MIN_DEVICES = 3
const DEVICES = 6
const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url))
const root = fileURLToPath(new URL('../..', import.meta.url))
// The demo model's reference profile (seattle-weather 2012) and the real days of 2015.
const PROFILE = JSON.parse(readFileSync(`${root}demo/models/weather/profile.json`, 'utf8')) as {
  features: Record<string, { edges: number[] }>
}
const DAYS_2015 = (
  parse(readFileSync(`${root}node_modules/vega-datasets/data/seattle-weather.csv`), { columns: true }) as Record<
    string,
    string
  >[]
).filter((r) => r.date.startsWith('2015'))

/** Histograms of some days binned on the profile's edges, as a device's telemetry reports them. */
function histogramsOf(days: Record<string, string>[]): Record<string, { counts: number[]; missing: number }> {
  return Object.fromEntries(
    Object.entries(PROFILE.features).map(([name, f]) => {
      const counts = new Array<number>(f.edges.length + 1).fill(0)
      for (const d of days) counts[binIndex(f.edges, Number(d[name]))]++
      return [name, { counts, missing: 0 }]
    }),
  )
}

let dev: WranglerDev
let browser: Browser
let reader: string
const consoleErrors: string[] = []

const call = <T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> =>
  adminCall<T>(dev.url, method, path, body, headers)

async function publish(model: string, bytes: Uint8Array, lineage: Record<string, unknown>): Promise<void> {
  await publishBytes(dev.url, model, bytes, { profile: PROFILE, metrics: { accuracy: 0.84 }, lineage })
}

/** A page at 1280×800 whose console errors and uncaught exceptions are collected. */
async function openPage(scheme: 'light' | 'dark' = 'light'): Promise<Page> {
  const page = await watchedPage(browser, consoleErrors, scheme)
  return page
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${artifacts}${name}.png`, fullPage: false })
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true })
  dev = await startWranglerDev({ vars: { TELEMETRY_MIN_DEVICES: String(MIN_DEVICES) } })
  await call('POST', '/v1/models', {
    name: 'weather',
    format: 'onnx',
    task: 'classification',
    description: 'Seattle weather',
  })
  await call('POST', '/v1/models', { name: 'digits', format: 'onnx', task: 'classification' })
  await publish('weather', new Uint8Array([1, 2, 3, 4]), {
    dataHash: 'sha256:seattle-2012-2014',
    codeCommit: 'a1b2c3d4e5',
  })
  await publish('weather', new Uint8Array([5, 6, 7, 8]), { parent: 1, triggerEvent: 'drift', codeCommit: 'f00dfeed12' })
  await call('PUT', '/v1/models/weather/aliases/production', { version: 1 })
  reader = (
    await call<{ token: string }>('POST', '/v1/tokens', { name: 'viewer', scopes: ['telemetry:read', 'registry:read'] })
  ).token
  const appKey = (await call<{ token: string }>('POST', '/v1/tokens', { name: 'web', scopes: ['device'] })).token
  // Devices of version 1 (profiled on 2012) that see the 365 days of 2015, spread over them and four
  // minutes: 2015 was warmer (temp_max drifts) while the wind blew as before.
  const rand = seededRandom(42)
  const slices = DEVICES * 4
  for (let d = 0; d < DEVICES; d++) {
    const reports = Array.from({ length: 4 }, (_, i) => {
      const k = d * 4 + i
      const days = DAYS_2015.slice(
        Math.floor((k * DAYS_2015.length) / slices),
        Math.floor(((k + 1) * DAYS_2015.length) / slices),
      )
      const report = makeReport(rand, { model: 'weather', start: minuteAgo(2 + i * 3), inferences: days.length })
      return { ...report, features: histogramsOf(days), outputs: {} }
    })
    const res = await fetch(`${dev.url}/v1/telemetry`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Edgefleet-Key': appKey },
      body: JSON.stringify(makeBatch(`dev_dashboard_${d}`, reports)),
    })
    expect(res.status).toBe(202)
  }
  // One device on version 2: below k, so its cohort must read as suppressed, never as "no data".
  const lone = await fetch(`${dev.url}/v1/telemetry`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Edgefleet-Key': appKey },
    body: JSON.stringify(
      makeBatch('dev_dashboard_lone', [
        {
          ...makeReport(rand, { model: 'weather', version: 2, start: minuteAgo(3), inferences: 10 }),
          features: histogramsOf(DAYS_2015.slice(0, 10)),
          outputs: {},
        },
      ]),
    ),
  })
  expect(lone.status).toBe(202)
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs })
})

afterAll(async () => {
  await browser?.close()
  await dev?.stop({ removeState: true })
})

describe('dashboard', () => {
  it('signs in, lists models, starts a rollout from the form and rolls it back from the button', async () => {
    const page = await openPage()
    await page.goto(`${dev.url}/dashboard/`)
    await page.getByTestId('token-input').fill(E2E_ADMIN_TOKEN)
    await page.getByTestId('token-input').press('Enter')
    await page.getByTestId('models-list').waitFor()
    await expect.poll(() => page.getByTestId('model-row-weather').textContent()).toContain('production → v1')
    expect(await page.getByTestId('model-row-digits').isVisible()).toBe(true)
    expect(await page.evaluate('localStorage.length')).toBe(0)
    await page.waitForFunction("!document.body.textContent.includes('…')")
    await shot(page, 'models-light')

    await page.getByRole('link', { name: 'weather', exact: true }).click()
    await page.getByTestId('versions-table').waitFor()
    expect(await page.getByTestId('versions-table').textContent()).toContain('f00dfeed12')
    await shot(page, 'model-light')

    await page.goto(`${dev.url}/dashboard/#/models/weather/rollout`)
    await page.getByTestId('rollout-form').waitFor()
    await page.getByTestId('rollout-candidate').selectOption('2')
    // A step list the core schema refuses is reported with its pointer and nothing is sent.
    await page.getByTestId('rollout-steps').fill('50 0 1\n10 0 1')
    await page.getByTestId('rollout-start').click()
    await page.getByText('/steps/1/percent: percents must be strictly increasing').waitFor()
    expect(
      await fetch(`${dev.url}/v1/models/weather/rollouts/current`, {
        headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
      }).then((r) => r.status),
    ).toBe(404)

    await page.getByTestId('rollout-steps').fill('10 0 1\n100 0 1')
    await page.getByTestId('rollout-guardrails').fill('[{"metric": "error_rate", "maxDiff": 0.05}]')
    await page.getByTestId('rollout-start').click()
    await page.getByTestId('rollout-timeline').waitFor()
    expect(await page.getByTestId('rollout-status').textContent()).toBe('running')
    const started = await call<{ id: string; status: string; config: { candidate: number; steps: unknown[] } }>(
      'GET',
      '/v1/models/weather/rollouts/current',
    )
    expect(started).toMatchObject({ status: 'running', config: { candidate: 2 } })
    expect(started.config.steps).toHaveLength(2)
    await shot(page, 'rollout-light')

    await page.getByTestId('rollout-action-rollback').click()
    await page.locator('#reason').fill('checked by the dashboard test')
    await page.getByTestId('confirm-action').click()
    await expect.poll(() => page.getByTestId('rollout-status').textContent()).toBe('rolled_back')
    const after = await call<{ id: string; status: string; reason: string; transitions: { reason: string }[] }>(
      'GET',
      `/v1/models/weather/rollouts/${started.id}`,
    )
    expect(after.status).toBe('rolled_back')
    expect(after.transitions.map((t) => t.reason)).toContain('checked by the dashboard test')
    expect(await page.getByTestId('rollout-action-rollback').isDisabled()).toBe(true)
    await page.context().close()
  })

  it('explains the 409 when the rollout moved on since the page was drawn', async () => {
    await call('POST', '/v1/models/weather/rollouts', {
      candidate: 2,
      mode: 'canary',
      steps: [
        { percent: 10, minDevices: 1 },
        { percent: 50, minDevices: 1 },
      ],
    })
    const page = await openPage()
    await page.goto(`${dev.url}/dashboard/#token=${E2E_ADMIN_TOKEN}`)
    await page.getByTestId('models-list').waitFor()
    await page.goto(`${dev.url}/dashboard/#/models/weather/rollout`)
    await page.getByTestId('rollout-timeline').waitFor()
    const current = await call<{ id: string }>('GET', '/v1/models/weather/rollouts/current')
    await call('POST', `/v1/models/weather/rollouts/${current.id}/advance`, { expectStep: 0 })
    await page.getByTestId('rollout-action-advance').click()
    await page.getByTestId('confirm-action').click()
    await page.getByText('moved on since this page was loaded').waitFor()
    // The browser logs the refused request itself; that one expected 409 is not an error of the page.
    const conflict = consoleErrors.findIndex((e) => e.includes('status of 409'))
    expect(conflict).toBeGreaterThanOrEqual(0)
    consoleErrors.splice(conflict, 1)
    expect((await call<{ step: number }>('GET', `/v1/models/weather/rollouts/${current.id}`)).step).toBe(1)
    await page.keyboard.press('Escape')
    await call('POST', `/v1/models/weather/rollouts/${current.id}/rollback`, { reason: 'test done' })
    await page.context().close()
  })

  it('shows temp_max drifted and wind not in the heatmap, with charts and a histogram on click', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const page = await openPage(scheme)
      await page.goto(`${dev.url}/dashboard/#token=${E2E_ADMIN_TOKEN}`)
      await page.getByTestId('models-list').waitFor()
      // The token was taken from the URL once and stripped; it lives in sessionStorage only.
      expect(page.url()).not.toContain('token')
      expect(await page.evaluate('sessionStorage.length')).toBeGreaterThan(0)
      if (scheme === 'dark') {
        await page.waitForFunction("!document.body.textContent.includes('…')")
        await shot(page, 'models-dark')
        await page.goto(`${dev.url}/dashboard/#/models/weather`)
        await page.getByTestId('versions-table').waitFor()
        await shot(page, 'model-dark')
        await page.goto(`${dev.url}/dashboard/#/models/weather/rollout`)
        await page.getByTestId('rollout-timeline').waitFor()
        await shot(page, 'rollout-dark')
      }
      await page.goto(`${dev.url}/dashboard/#/fleet/weather?range=3600000`)
      await page
        .getByTestId('drift-heatmap')
        .waitFor()
        .catch(async (e) => {
          throw new Error(`${e}: ${await page.locator('main').textContent()}`)
        })
      expect(await page.getByTestId('drift-cell-temp_max').getAttribute('data-drifted')).toBe('true')
      expect(await page.getByTestId('drift-cell-wind').getAttribute('data-drifted')).toBe('false')
      expect(await page.getByTestId('latency-chart').locator('canvas').count()).toBeGreaterThan(0)
      expect(await page.getByTestId('backend-mix').textContent()).toMatch(/wasm/)
      expect(await page.getByTestId('cohort-suppressed').textContent()).toContain(`k = ${MIN_DEVICES}`)
      await page.getByTestId('drift-cell-temp_max').click()
      await page.getByTestId('drift-histogram').waitFor()
      await shot(page, `fleet-${scheme}`)
      await page.getByTestId('latency-chart').scrollIntoViewIfNeeded()
      await shot(page, `fleet-charts-${scheme}`)
      await page.goto(`${dev.url}/dashboard/#/events`)
      await page.getByTestId('events-table').waitFor()
      expect(await page.getByTestId('events-table').textContent()).toContain('rollout.rolled_back')
      await shot(page, `events-${scheme}`)
      await page.context().close()
    }
  })

  it('shows a telemetry:read token the fleet and its drift, and nothing of the registry or rollouts', async () => {
    const telemetryOnly = (
      await call<{ token: string }>('POST', '/v1/tokens', { name: 'analyst', scopes: ['telemetry:read'] })
    ).token
    const page = await openPage()
    await page.goto(`${dev.url}/dashboard/#token=${telemetryOnly}`)
    // Without registry:read there is no models list to start from: the fleet view asks for a model.
    await page.getByLabel('Model').fill('weather')
    await page.getByLabel('Model').press('Enter')
    await page.getByTestId('drift-heatmap').waitFor()
    expect(page.url()).toContain('#/fleet/weather')
    expect(await page.getByTestId('drift-cell-temp_max').getAttribute('data-drifted')).toBe('true')
    expect(await page.getByRole('link', { name: 'Models' }).count()).toBe(0)
    expect(await page.locator('[data-testid^="rollout-action-"]').count()).toBe(0)
    await page.getByTestId('drift-cell-temp_max').click()
    await page.getByText('The reference histogram needs a token with registry:read.').waitFor()
    await page.context().close()
  })

  it('shows a read-only token no rollout buttons and no start form', async () => {
    const page = await openPage()
    await page.goto(`${dev.url}/dashboard/#token=${reader}`)
    await page.getByTestId('models-list').waitFor()
    await page.goto(`${dev.url}/dashboard/#/models/weather/rollout`)
    await page.getByTestId('rollout-timeline').waitFor()
    expect(await page.locator('[data-testid^="rollout-action-"]').count()).toBe(0)
    expect(await page.getByTestId('rollout-form').count()).toBe(0)
    await page.goto(`${dev.url}/dashboard/#/fleet/weather`)
    await page.getByTestId('drift-heatmap').waitFor()
    await page.context().close()
  })

  it('logged no console error in any view', () => {
    expect(withoutAbsentSlos(consoleErrors)).toEqual([])
  })
})
