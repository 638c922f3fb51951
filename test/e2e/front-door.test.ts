// The front door and the demo in a real Chromium at 1280×800 against a real `wrangler dev`: the
// landing page links every face, /v1 lists the routes, /api/ renders the API reference from local
// files only, and the demo's 2015 result lands in view with its histograms. Screenshots go to
// test/artifacts/ (git-ignored) for a person to look at.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumArgs, chromiumPath } from '../../scripts/lib/chromium.ts'
import { createAppKey, publishWeather } from '../helpers/edge-seed.ts'
import { startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const ARTIFACTS = join(root, 'test', 'artifacts')

describe('the front door and the demo', () => {
  let dev: WranglerDev
  let browser: Browser
  let appKey: string
  const offOrigin: string[] = []
  const errors: string[] = []

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true })
    dev = await startWranglerDev()
    await publishWeather(dev)
    appKey = await createAppKey(dev)
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs })
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await dev?.stop({ removeState: true })
  })

  async function open(path: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    // The SDK starts its worker from a blob: URL of the page's own origin.
    const own = (url: string) => url.startsWith(dev.url) || url.startsWith(`blob:${dev.url}`) || url.startsWith('data:')
    page.on('request', (r) => !own(r.url()) && offOrigin.push(r.url()))
    page.on('pageerror', (e) => errors.push(`${path}: ${e.message}`))
    page.on('console', (m) => m.type() === 'error' && errors.push(`${path}: ${m.text()}`))
    await page.goto(`${dev.url}${path}`)
    return page
  }

  it('/ links the demo, the dashboard, the API reference and the SDK', async () => {
    const page = await open('/')
    for (const [door, href] of [
      ['demo', '/demo/'],
      ['dashboard', '/dashboard/'],
      ['api', '/api/'],
      ['sdk', '/sdk/edgefleet.js'],
    ])
      expect(await page.getByTestId(`door-${door}`).getAttribute('href')).toBe(href)
    await expect.poll(() => page.getByTestId('door-demo').isVisible()).toBe(true)
    await page.screenshot({ path: join(ARTIFACTS, 'landing.png') })
    expect((await fetch(`${dev.url}/sdk/edgefleet.js`)).status).toBe(200)
    await page.close()
  })

  it('/v1 answers with the route index', async () => {
    const res = await fetch(`${dev.url}/v1`)
    expect(res.status).toBe(200)
    const index = (await res.json()) as { openapi: string; routes: { method: string; path: string }[] }
    expect(index.openapi).toBe('/openapi.json')
    expect(index.routes).toContainEqual(
      expect.objectContaining({ method: 'POST', path: '/v1/models/{model}/rollouts' }),
    )
    expect(index.routes).toContainEqual(expect.objectContaining({ method: 'GET', path: '/v1' }))
  })

  it('/api/ renders the reference of /openapi.json from local files only', async () => {
    const page = await open('/api/')
    await page.getByText('edgefleet edge API').first().waitFor({ timeout: 60_000 })
    await page.waitForTimeout(1500)
    await page.screenshot({ path: join(ARTIFACTS, 'api-reference.png') })
    await page.getByText('Route index').first().waitFor({ timeout: 30_000 })
    expect(await page.getByText('Ask AI').count()).toBe(0)
    await page.close()
  }, 90_000)

  it('the demo shows the 2015 result in view at 1280×800, with histograms and counts that agree', async () => {
    const page = await open(`/demo/#key=${appKey}`)
    await page.locator('#status[data-state="ready"]').waitFor({ timeout: 90_000 })
    await page.click('#day button[type="submit"]')
    await page.locator('#result').waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'demo-predict.png') })
    await page.click('#simulate')
    await page.locator('#drift-status[data-state="done"]').waitFor({ timeout: 90_000 })
    // The result is scrolled into view: its first line is inside the 800 px viewport.
    await expect
      .poll(async () => {
        const box = await page.locator('#drift-status').boundingBox()
        return box !== null && box.y >= 0 && box.y + box.height <= 800
      })
      .toBe(true)
    expect(await page.locator('#histograms figure').count()).toBe(4)
    expect(await page.locator('#histograms figure.drifted').allInnerTexts()).toEqual([
      expect.stringContaining('temp_max'),
    ])
    // One day predicted by hand and the 365 of 2015: the table's n and the note say the same.
    const n = await page.locator('#drift-table tbody tr').first().locator('td').nth(1).innerText()
    expect(n).toBe('366')
    expect(await page.locator('#drift-note').innerText()).toContain('366 (365 days of 2015 and 1 you predicted above)')
    await page.waitForTimeout(600) // the smooth scroll settles before the picture
    await page.screenshot({ path: join(ARTIFACTS, 'demo-drift.png') })
    await page.close()
  }, 180_000)

  it('loaded nothing from another origin and logged no errors', () => {
    expect(offOrigin).toEqual([])
    expect(errors.filter((e) => !e.includes('Some nodes were not assigned'))).toEqual([])
  })
})
