import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import * as z from 'zod'
import { ErrorBody } from '../../core/formats/error.ts'
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
    expect(spec.components.securitySchemes.appKey).toMatchObject({ type: 'apiKey', name: 'X-Edgefleet-Key' })
    // The documented error body is the one the edge sends (core/formats/error.ts), on every error status.
    const resolve = (schema: any): any =>
      schema?.$ref ? spec.components.schemas[schema.$ref.replace('#/components/schemas/', '')] : schema
    const expected = z.toJSONSchema(ErrorBody, { target: 'openapi-3.0' }) as Record<string, unknown>
    delete expected.$schema
    for (const status of ['400', '401', '403', '404', '409']) {
      const documented = resolve(publish.responses[status]?.content?.['application/json']?.schema)
      expect(documented, `publish ${status}`).toMatchObject({
        type: 'object',
        required: ['error'],
        properties: { error: { type: 'object', required: ['code', 'message'] } },
      })
      expect(Object.keys(documented.properties.error.properties).sort()).toEqual(['code', 'message', 'pointer'])
      expect(documented.properties.error.properties.code.pattern).toBe(
        (expected as any).properties.error.properties.code.pattern,
      )
    }
    // And a real error answer has exactly that shape.
    const res = await SELF.fetch('http://edge.test/v1/models/x/versions', {
      method: 'POST',
      headers: { Authorization: 'Bearer test-admin-token', 'Content-Type': 'application/json' },
      body: '{"files": 1}',
    })
    expect(res.status).toBe(400)
    expect(ErrorBody.safeParse(await res.json()).success).toBe(true)
  })
})
