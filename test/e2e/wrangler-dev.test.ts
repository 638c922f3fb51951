import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

describe('wrangler dev on a free port', () => {
  let dev: WranglerDev
  beforeAll(async () => {
    dev = await startWranglerDev()
  })
  afterAll(async () => {
    await dev?.stop({ removeState: true })
  })

  it('serves /healthz over real HTTP away from 8787', async () => {
    expect(dev.port).not.toBe(8787)
    const res = await fetch(`${dev.url}/healthz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ ok: true, service: 'edgefleet' })
  })

  it('answers an unknown route with 404', async () => {
    const res = await fetch(`${dev.url}/nope`)
    expect(res.status).toBe(404)
  })
})
