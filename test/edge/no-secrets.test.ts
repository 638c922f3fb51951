import { env } from 'cloudflare:test'
import { beforeEach, describe, expect, it } from 'vitest'
import { ADMIN, api, resetState } from './api.ts'
import { setupModel } from './telemetry-fixtures.ts'

beforeEach(async () => {
  await resetState()
})

/** A secret and the encodings it could leak in: as is, URL-encoded, base64, hex, and without its prefix. */
function spellings(secret: string): string[] {
  const bytes = new TextEncoder().encode(secret)
  const out = [
    secret,
    encodeURIComponent(secret),
    btoa(secret),
    [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(''),
  ]
  const tail = secret.split('_').at(-1)!
  if (tail.length >= 16) out.push(tail)
  return out
}

describe('no secret anywhere', () => {
  it('never returns a token, app key or webhook secret it was given or made: responses, headers, errors, events, audit', async () => {
    const seen: string[] = []
    const call = async (method: string, path: string, opts: Parameters<typeof api>[2] = {}) => {
      const res = await api(method, path, opts)
      const text = await res.text()
      seen.push(`${res.status} ${JSON.stringify([...res.headers])} ${text}`)
      return { res, json: () => JSON.parse(text) }
    }
    const model = await setupModel('secrets')
    const secrets: string[] = [ADMIN]
    for (const [name, scopes] of [
      ['ci', ['registry:write', 'registry:read']],
      ['ops', ['rollout:write', 'telemetry:read']],
      ['web', ['device']],
    ] as const) {
      // The one response that shows a token is the one that creates it; it is left out of the search.
      const created = await api('POST', '/v1/tokens', { body: { name, scopes } })
      secrets.push(((await created.json()) as { token: string }).token)
    }
    const webhookSecret = 'whsec-' + 'k3y'.repeat(8)
    secrets.push(webhookSecret)
    await call('PUT', `/v1/models/${model}/policy`, {
      body: { webhook: { url: 'https://trainer.example.com/hook', secret: webhookSecret } },
    })
    const sloSecret = 'whsec-' + 'sl0'.repeat(8)
    secrets.push(sloSecret)
    const objectives = [{ name: 'errors', kind: 'error_rate', target: 0.999 }]
    await call('PUT', `/v1/models/${model}/slo`, {
      body: { objectives, webhook: { url: 'https://oncall.example.com/hook', secret: sloSecret } },
    })
    const [, ci, ops, web] = secrets as [string, string, string, string]
    // Uses, refusals and errors with every credential.
    await call('GET', '/v1/tokens/self', { token: ci })
    await call('GET', '/v1/tokens/self', { token: web })
    await call('GET', '/v1/tokens', { token: ops })
    await call('GET', `/v1/models/${model}/policy`)
    await call('GET', `/v1/models/${model}/policy`, { token: web })
    await call('GET', `/v1/assign/${model}?device=dev_0123456789abcdef`, {
      token: null,
      headers: { 'X-Edgefleet-Key': web },
    })
    await call('GET', `/v1/assign/${model}?device=dev_0123456789abcdef&key=${web}`, { token: null })
    await call('POST', '/v1/telemetry', { token: null, headers: { 'X-Edgefleet-Key': web }, raw: '{bad' })
    await call('GET', '/v1/models', { token: `${ci}x` })
    await call('GET', '/v1/models', { token: null, headers: { 'X-Edgefleet-Key': ci } })
    await call('PUT', `/v1/models/${model}/policy`, {
      token: ci,
      body: { webhook: { url: 'x', secret: webhookSecret } },
    })
    await call('PUT', `/v1/models/${model}/policy`, { body: { webhook: { url: 'not a url', secret: webhookSecret } } })
    await call('GET', `/v1/models/${model}/slo`)
    await call('GET', `/v1/models/${model}/slo/status`)
    await call('POST', `/v1/models/${model}/slo/evaluate`)
    await call('PUT', `/v1/models/${model}/slo`, {
      body: { objectives, webhook: { url: 'not a url', secret: sloSecret } },
    })
    const tokens = (await call('GET', '/v1/tokens')).json().tokens as { id: string }[]
    for (const t of tokens) await call('DELETE', `/v1/tokens/${t.id}`)
    await call('GET', '/v1/tokens/self', { token: ci })
    await call('GET', '/v1/events?limit=1000')
    await call('GET', `/v1/events?model=${model}&limit=1000`)
    await call('GET', '/v1/tokens')
    // The audit trail and the token table as stored.
    seen.push(JSON.stringify((await env.DB.prepare('SELECT * FROM events').all()).results))
    seen.push(JSON.stringify((await env.DB.prepare('SELECT * FROM tokens').all()).results))

    const haystack = seen.join('\n')
    const found = secrets.flatMap(spellings).filter((s) => haystack.includes(s))
    console.log(`secrets created: ${secrets.length}; texts searched: ${seen.length}; secrets found: ${found.length}`)
    expect(found).toEqual([])
  })
})
