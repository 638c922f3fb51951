import { api, bodyOf, createModel, upload } from './api.ts'
import { PROFILE } from '../helpers/telemetry.ts'

export * from '../helpers/telemetry.ts'

let counter = 0
/** A model name no other test (nor an earlier run: Durable Object storage persists) has used. */
export function uniqueModel(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}-${++counter}`
}

/** Creates a model with one version carrying PROFILE, aliased production; returns its name. */
export async function setupModel(prefix: string): Promise<string> {
  const name = uniqueModel(prefix)
  await createModel(name)
  const file = await upload('model.onnx', new Uint8Array([1, 2, 3, 4]))
  const res = await api('POST', `/v1/models/${name}/versions`, { body: { files: [file], profile: PROFILE } })
  if (res.status !== 201) throw new Error(`publish failed: ${res.status} ${await res.text()}`)
  await api('PUT', `/v1/models/${name}/aliases/production`, { body: { version: 1 } })
  return name
}

/** An app key (scope device). */
export async function appKey(name = 'web'): Promise<string> {
  return (await bodyOf(await api('POST', '/v1/tokens', { body: { name, scopes: ['device'] } }))).token
}

/** gzip of a string. */
export async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))
  return new Uint8Array(await new Response(stream).arrayBuffer())
}

/** POSTs a batch as a device would: JSON by default, or text/plain, gzip, the key in the query. */
export async function postBatch(
  batch: unknown,
  key: string,
  o: {
    textPlain?: boolean
    gzip?: 'header' | 'query'
    keyInQuery?: boolean
    raw?: BodyInit
    headers?: Record<string, string>
  } = {},
): Promise<Response> {
  const text = typeof batch === 'string' ? batch : JSON.stringify(batch)
  const headers: Record<string, string> = {
    'Content-Type': o.textPlain ? 'text/plain;charset=UTF-8' : 'application/json',
    ...o.headers,
  }
  const query = new URLSearchParams()
  if (o.keyInQuery) query.set('key', key)
  else headers['X-Edgefleet-Key'] = key
  let body: BodyInit = o.raw ?? text
  if (o.gzip) {
    body = await gzip(text)
    if (o.gzip === 'header') headers['Content-Encoding'] = 'gzip'
    else query.set('encoding', 'gzip')
  }
  const qs = query.size ? `?${query}` : ''
  return api('POST', `/v1/telemetry${qs}`, { token: null, raw: body, headers })
}
