import type { Browser, Page, Request } from 'playwright-core'
import { E2E_ADMIN_TOKEN } from '../../scripts/lib/wrangler-dev.ts'

/**
 * A call to the admin API of a local edge with the e2e admin token: JSON bodies, or bytes as they
 * are. Resolves with the parsed answer (null when empty); a non-2xx answer throws with its body.
 */
export async function adminCall<T>(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${E2E_ADMIN_TOKEN}`,
      ...(body instanceof Uint8Array ? {} : { 'Content-Type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : body instanceof Uint8Array ? body : JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
  return (text ? JSON.parse(text) : null) as T
}

/** Uploads `bytes` as `model.onnx` and publishes them as a new version of `model`; resolves with its number. */
export async function publishBytes(
  url: string,
  model: string,
  bytes: Uint8Array,
  version: { profile: unknown; metrics: Record<string, unknown>; lineage: Record<string, unknown> },
): Promise<number> {
  const hash = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('')
  await adminCall(url, 'PUT', `/v1/artifacts/${hash}`, bytes, { 'Content-Type': 'application/octet-stream' })
  const v = await adminCall<{ version: number }>(url, 'POST', `/v1/models/${model}/versions`, {
    files: [{ path: 'model.onnx', sha256: hash, size: bytes.length }],
    ...version,
  })
  return v.version
}

/** Each watched page's requests not yet answered, with when they were sent. */
const openRequests = new WeakMap<Page, Map<Request, number>>()

/** A page at 1280×800 in the given colour scheme whose console errors and uncaught exceptions go to `errors`. */
export async function watchedPage(browser: Browser, errors: string[], scheme: 'light' | 'dark'): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: scheme })
  const page = await context.newPage()
  const open = new Map<Request, number>()
  openRequests.set(page, open)
  page.on('request', (r) => open.set(r, Date.now()))
  page.on('requestfinished', (r) => open.delete(r))
  page.on('requestfailed', (r) => open.delete(r))
  // The views wait on a wrangler dev that shares two cores with the rest of the suite.
  page.setDefaultTimeout(60_000)
  page.on('console', (m) => {
    // A failed request's message names the page; its location names the resource.
    if (m.type() === 'error')
      errors.push(`${page.url()}: ${m.text()}${m.location().url ? ` [${m.location().url}]` : ''}`)
  })
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`))
  return page
}

/**
 * The console errors left once the fleet page's SLO reads of a model without SLOs are set aside:
 * `GET …/slo` and `…/slo/status` answer 404 `not_found` for such a model, which is how the panel
 * learns there are none, and Chromium logs every 4xx a page fetches as an error.
 */
export function withoutAbsentSlos(errors: string[]): string[] {
  return errors.filter(
    (e) => !/status of 404 \(Not Found\) \[https?:\/\/[^\]]+\/v1\/models\/[a-z0-9-]+\/slo(\/status)?\]$/.test(e),
  )
}

/**
 * Opens `url` (a dashboard address) in `page` and waits for its first view (the
 * `edgefleet:first-render` mark), not for the `load` event. A page that shows nothing within 40 s is
 * opened once more from a blank page (60 s), after printing the requests it still waits on: with
 * several edges and Chromiums sharing two cores, one request of a fresh context can stall for a minute,
 * and the second attempt tells the dashboard's fault from the machine's. A second failure fails with
 * those requests.
 */
export async function openDashboard(page: Page, url: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const until = Date.now() + (attempt === 1 ? 40_000 : 60_000)
    const left = () => Math.max(1_000, until - Date.now())
    try {
      // A retry must load a new document: from the dashboard, a new hash alone would not.
      if (attempt > 1) await page.goto('about:blank')
      await page.goto(url, { waitUntil: 'commit', timeout: left() })
      await page.waitForFunction(() => performance.getEntriesByName('edgefleet:first-render').length > 0, undefined, {
        timeout: left(),
      })
      return
    } catch (e) {
      const now = Date.now()
      const open = [...(openRequests.get(page) ?? new Map<Request, number>())]
        .map(([r, at]) => `${r.method()} ${r.url()} (${now - at} ms)`)
        .join('; ')
      const what = `${url}: no first view (${e instanceof Error ? e.message.split('\n')[0] : e}); open requests: ${open || 'none'}`
      if (attempt >= 2) throw new Error(what, { cause: e })
      console.warn(`opening again, ${what}`)
    }
  }
}
