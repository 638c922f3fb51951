import { env, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'

describe('GET /healthz', () => {
  it('answers from inside workerd with the environment it runs in', async () => {
    const res = await SELF.fetch('http://edge.test/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, service: 'edgefleet', environment: 'development' })
  })

  it('runs on a D1 database with the migrations applied', async () => {
    const { results } = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1")
      .bind('events')
      .all()
    expect(results).toHaveLength(1)
  })
})
