import { env } from 'cloudflare:test'
import { beforeEach, describe, expect, it } from 'vitest'
import { RegistryCache } from '../../edge/assign/registry-cache.ts'
import { api, bodyOf, createModel, resetState, upload } from './api.ts'

beforeEach(resetState)

/** A model with versions 1 and 2 (different bytes), production on 1. */
async function twoVersions(model: string): Promise<void> {
  await createModel(model)
  for (const b of [1, 2]) {
    const file = await upload('model.onnx', new Uint8Array([b, b, b]))
    expect((await api('POST', `/v1/models/${model}/versions`, { body: { files: [file] } })).status).toBe(201)
  }
  expect((await api('PUT', `/v1/models/${model}/aliases/production`, { body: { version: 1 } })).status).toBe(200)
}

describe('the registry cache of assignments', () => {
  it('serves what it read for at most its TTL, then reads D1 again', async () => {
    await twoVersions('cached')
    let now = 1_000
    const cache = new RegistryCache(5_000, () => now)
    expect(await cache.production(env.DB, 'cached')).toEqual({ production: 1 })
    // Moved behind the cache's back (another isolate): this one still answers 1 within the TTL…
    await env.DB.prepare("UPDATE aliases SET version = 2 WHERE model = 'cached' AND alias = 'production'").run()
    now += 4_999
    expect(await cache.production(env.DB, 'cached')).toEqual({ production: 1 })
    // …and 2 once it has passed.
    now += 1
    expect(await cache.production(env.DB, 'cached')).toEqual({ production: 2 })
    expect((await cache.version(env.DB, 'cached', 2))?.version).toBe(2)
  })

  it('never keeps an unknown model: a model created a moment later is found at once', async () => {
    const cache = new RegistryCache(5_000, () => 0)
    expect(await cache.production(env.DB, 'later')).toBeNull()
    await twoVersions('later')
    expect(await cache.production(env.DB, 'later')).toEqual({ production: 1 })
  })

  it('an alias moved through this edge reaches the next assignment at once', async () => {
    await twoVersions('moved')
    const key = (await bodyOf(await api('POST', '/v1/tokens', { body: { name: 'app', scopes: ['device'] } }))).token
    const assign = async () =>
      (
        await bodyOf(
          await api('GET', '/v1/assign/moved?device=device_0001', { token: null, headers: { 'X-Edgefleet-Key': key } }),
        )
      ).version
    expect(await assign()).toBe(1)
    expect((await api('PUT', '/v1/models/moved/aliases/production', { body: { version: 2 } })).status).toBe(200)
    expect(await assign()).toBe(2)
  })
})
