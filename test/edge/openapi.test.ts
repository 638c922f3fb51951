import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../edge/app.ts'

describe('GET /openapi.json', () => {
  it('describes every route the app serves, generated from the route definitions', async () => {
    const res = await SELF.fetch('http://edge.test/openapi.json')
    expect(res.status).toBe(200)
    const spec = (await res.json()) as any
    expect(spec.openapi).toBe('3.1.0')
    const served = createApp()
      .routes.filter((r) => r.method !== 'ALL' && r.path !== '/openapi.json')
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`)
    const documented = Object.entries(spec.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m} ${path}`),
    )
    expect(new Set(served)).toEqual(new Set(documented))
    expect(served.length).toBeGreaterThanOrEqual(12)
  })

  it('carries request schemas, security and the error shape', async () => {
    const spec = (await (await SELF.fetch('http://edge.test/openapi.json')).json()) as any
    const publish = spec.paths['/v1/models/{model}/versions'].post
    expect(publish.requestBody.content['application/json'].schema).toBeTruthy()
    expect(publish.security).toEqual([{ bearer: [] }])
    expect(publish.responses['400'].content['application/json'].schema).toBeTruthy()
    expect(spec.components.securitySchemes.appKey).toMatchObject({ type: 'apiKey', name: 'X-Edgefleet-Key' })
  })
})
