import { env, SELF } from 'cloudflare:test'
import { toHex } from '../../core/hex.ts'

export const ADMIN = 'test-admin-token'
export const ORIGIN = 'http://edge.test'

/** Calls the Worker through its real fetch handler inside workerd. */
export async function api(
  method: string,
  path: string,
  opts: { token?: string | null; body?: unknown; raw?: BodyInit; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...opts.headers }
  const token = opts.token === undefined ? ADMIN : opts.token
  if (token !== null && !('X-Edgefleet-Key' in headers)) headers.Authorization = `Bearer ${token}`
  let body: BodyInit | undefined = opts.raw
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body)
    headers['Content-Type'] ??= 'application/json'
  }
  return SELF.fetch(`${ORIGIN}${path}`, { method, headers, body })
}

/** The JSON body of a response, typed loosely for assertions. */
export async function bodyOf(res: Response): Promise<any> {
  return res.json()
}

/** Empties every registry table and the artifact bucket (storage is shared across tests). */
export async function resetState(): Promise<void> {
  await env.DB.batch(
    ['cohort_pins', 'cohorts', 'runs', 'aliases', 'versions', 'models', 'tokens', 'events'].map((t) =>
      env.DB.prepare(`DELETE FROM ${t}`),
    ),
  )
  let cursor: string | undefined
  do {
    const page = await env.ARTIFACTS.list({ cursor })
    if (page.objects.length) await env.ARTIFACTS.delete(page.objects.map((o) => o.key))
    cursor = page.truncated ? page.cursor : undefined
  } while (cursor)
}

/** Everything D1 and R2 hold, to prove a rejected request changed nothing. */
export async function snapshot(): Promise<string> {
  const tables = await Promise.all(
    ['models', 'versions', 'aliases', 'tokens', 'events', 'runs', 'cohorts', 'cohort_pins'].map(async (t) => [
      t,
      (await env.DB.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()).results,
    ]),
  )
  const objects = (await env.ARTIFACTS.list()).objects.map((o) => [o.key, o.size])
  return JSON.stringify({ tables, objects })
}

/** Hex SHA-256 of bytes. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', bytes)
  return toHex(d)
}

/** Uploads bytes as an artifact and returns the file entry for a publish. */
export async function upload(
  path: string,
  bytes: Uint8Array,
  token = ADMIN,
): Promise<{ path: string; sha256: string; size: number }> {
  const hash = await sha256(bytes)
  const res = await api('PUT', `/v1/artifacts/${hash}`, {
    token,
    raw: bytes,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) },
  })
  if (res.status !== 201 && res.status !== 200) throw new Error(`upload failed: ${res.status} ${await res.text()}`)
  return { path, sha256: hash, size: bytes.length }
}

/** Creates a model (admin) and returns it. */
export async function createModel(name: string, extra: Record<string, unknown> = {}): Promise<any> {
  const res = await api('POST', '/v1/models', { body: { name, format: 'onnx', ...extra } })
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`)
  return res.json()
}
