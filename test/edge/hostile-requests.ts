import { seededRandom } from '../../scripts/lib/random.ts'

/** One generated request: where it goes, what it carries, and what kind of hostility it is. */
export interface HostileRequest {
  kind: string
  method: string
  path: string
  headers: Record<string, string>
  body?: Uint8Array | string
  /** True when the edge may also serve it (RFC 9110 says to ignore a Range it cannot parse): never a 5xx. */
  mayPass?: boolean
}

/** What the generator needs to know about the fleet it attacks. */
export interface Target {
  model: string
  rollout: string
  run: string
  hash: string
  adminToken: string
  appKey: string
}

const enc = new TextEncoder()

/** Path segments a name or hash must never accept: traversal, NUL, SQL, RTL, oversize, encodings. */
export const HOSTILE_SEGMENTS = [
  '..',
  '%2e%2e',
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e%5c%2e%2e',
  'a%00b',
  '%00',
  "x'%20OR%201=1--",
  '1;DROP%20TABLE%20versions',
  '%22%3B--',
  encodeURIComponent('\u202egnp.exe'),
  encodeURIComponent('модель'),
  encodeURIComponent('😀'),
  'A'.repeat(5000),
  '%ff%fe',
  '%',
  '-1',
  '1e309',
  'NaN',
  'Infinity',
  '0x10',
  ' ',
]

/** Hostile JSON values: wrong types, huge numbers, NaN/Infinity as text, strings that mean harm. */
const HOSTILE_VALUES: unknown[] = [
  null,
  true,
  -1,
  0,
  1e308,
  -1e308,
  2 ** 64,
  1.5,
  'NaN',
  'Infinity',
  '',
  "'; DROP TABLE models; --",
  '../../etc/passwd',
  'a\u0000b',
  '\u202edevice',
  'x'.repeat(100_000),
  [],
  [1, 'two', null],
  {},
  { $ne: null },
  { __proto__: { admin: true } },
]

/** Bodies that are not valid JSON, or not text at all. */
const RAW_BODIES: (string | Uint8Array)[] = [
  '{"a": NaN}',
  '{"a": Infinity}',
  '{"a": -Infinity}',
  '{"a": 1',
  '{"a": 1}}',
  "{'a': 1}",
  '',
  'null',
  '[]',
  '"string"',
  '1e99999',
  new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]),
  new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d, 0x00]),
  new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0x00]),
]

/** Deep nesting, a few thousand levels of arrays or objects. */
function deep(depth: number, object: boolean): string {
  return object ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth)
}

/** A JSON route and a body shape it accepts, to mutate. */
interface JsonRoute {
  method: string
  path: (t: Target, seg?: string) => string
  valid: (t: Target) => Record<string, unknown>
  device?: boolean
}

const JSON_ROUTES: JsonRoute[] = [
  { method: 'POST', path: () => '/v1/models', valid: () => ({ name: 'm-new', format: 'onnx' }) },
  {
    method: 'POST',
    path: (t, s) => `/v1/models/${s ?? t.model}/versions`,
    valid: (t) => ({ files: [{ path: 'model.onnx', sha256: t.hash, size: 4 }] }),
  },
  {
    method: 'PATCH',
    path: (t, s) => `/v1/models/${s ?? t.model}/versions/${s ?? 2}`,
    valid: () => ({ deprecated: true }),
  },
  {
    method: 'PUT',
    path: (t, s) => `/v1/models/${s ?? t.model}/aliases/${s ?? 'beta'}`,
    valid: () => ({ version: 1 }),
  },
  {
    method: 'PUT',
    path: (t, s) => `/v1/models/${s ?? t.model}/policy`,
    valid: () => ({ enabled: true, minDevices: 10 }),
  },
  {
    method: 'POST',
    path: (t, s) => `/v1/models/${s ?? t.model}/policy/evaluate`,
    valid: () => ({ closeOpenWindow: true }),
  },
  {
    method: 'PUT',
    path: (t, s) => `/v1/models/${s ?? t.model}/slo`,
    valid: () => ({ objectives: [{ name: 'p99', kind: 'latency', percentile: 99, thresholdMs: 50 }] }),
  },
  {
    method: 'POST',
    path: (t, s) => `/v1/models/${s ?? t.model}/slo/evaluate`,
    valid: () => ({ closeOpenWindow: true }),
  },
  {
    method: 'POST',
    path: (t, s) => `/v1/models/${s ?? t.model}/rollouts`,
    valid: () => ({ candidate: 2, mode: 'canary', steps: [{ percent: 20, minDevices: 5 }] }),
  },
  {
    method: 'PUT',
    path: (t, s) => `/v1/models/${s ?? t.model}/cohorts`,
    valid: () => ({ name: 'store', values: ['store-0001', 'store-0002'] }),
  },
  {
    method: 'PUT',
    path: (t, s) => `/v1/models/${s ?? t.model}/cohorts/${s ?? 'store-0001'}/pin`,
    valid: () => ({ version: 1 }),
  },
  {
    method: 'POST',
    path: (t, s) => `/v1/models/${s ?? t.model}/runs`,
    valid: () => ({ reason: 'manual' }),
  },
  { method: 'POST', path: () => '/v1/tokens', valid: () => ({ name: 'ci', scopes: ['registry:read'] }) },
  {
    method: 'POST',
    path: () => '/v1/telemetry',
    valid: (t) => ({ schema: 'telemetry/1', device: 'dev_0123456789abcdef', model: t.model, reports: [] }),
    device: true,
  },
]

/** Routes without a body: the hostility is in the path, the query and the headers. */
const PLAIN_ROUTES: { method: string; path: (t: Target, s: string) => string; device?: boolean }[] = [
  { method: 'GET', path: (_t, s) => `/v1/models/${s}` },
  { method: 'GET', path: (_t, s) => `/v1/models/${s}/versions/1` },
  { method: 'GET', path: (t, s) => `/v1/models/${t.model}/versions/${s}` },
  { method: 'GET', path: (_t, s) => `/v1/models/${s}/policy` },
  { method: 'GET', path: (_t, s) => `/v1/models/${s}/slo` },
  { method: 'GET', path: (_t, s) => `/v1/models/${s}/slo/status` },
  { method: 'POST', path: (_t, s) => `/v1/models/${s}/slo/evaluate` },
  { method: 'GET', path: (_t, s) => `/v1/models/${s}/cohorts` },
  { method: 'DELETE', path: (t, s) => `/v1/models/${t.model}/cohorts/${s}/pin` },
  { method: 'GET', path: (_t, s) => `/v1/models/${s}/rollouts/current` },
  { method: 'GET', path: (t, s) => `/v1/models/${t.model}/rollouts/${s}` },
  { method: 'POST', path: (t, s) => `/v1/models/${t.model}/rollouts/${s}/pause` },
  { method: 'POST', path: (t, s) => `/v1/models/${t.model}/rollouts/${s}/resume` },
  { method: 'POST', path: (t, s) => `/v1/models/${t.model}/rollouts/${s}/promote` },
  { method: 'POST', path: (t, s) => `/v1/models/${t.model}/rollouts/${s}/rollback` },
  { method: 'GET', path: (_t, s) => `/v1/models/${s}/runs` },
  { method: 'GET', path: (t, s) => `/v1/models/${t.model}/runs/${s}` },
  { method: 'GET', path: (_t, s) => `/v1/models/${s}/telemetry` },
  { method: 'DELETE', path: (_t, s) => `/v1/tokens/${s}` },
  { method: 'GET', path: (_t, s) => `/v1/artifacts/${s}` },
  { method: 'PUT', path: (_t, s) => `/v1/artifacts/${s}` },
  { method: 'PUT', path: (t, s) => `/v1/artifacts/${t.hash}/encodings/${s}` },
  { method: 'POST', path: (_t, s) => `/v1/artifacts/${s}/uploads` },
  { method: 'PUT', path: (t, s) => `/v1/artifacts/${t.hash}/uploads/${s}/parts/1` },
  { method: 'PUT', path: (t, s) => `/v1/artifacts/${t.hash}/uploads/u/parts/${s}` },
  { method: 'POST', path: (t, s) => `/v1/artifacts/${t.hash}/uploads/${s}/complete` },
  { method: 'DELETE', path: (t, s) => `/v1/artifacts/${t.hash}/uploads/${s}` },
  { method: 'GET', path: (_t, s) => `/v1/assign/${s}?device=dev_0123456789abcdef`, device: true },
]

/** Hostile query strings on list and device routes (duplicates, wrong types, huge numbers). */
const QUERY_ROUTES: { path: (t: Target) => string; queries: string[]; device?: boolean; mayPass?: boolean }[] = [
  {
    path: (t) => `/v1/assign/${t.model}`,
    device: true,
    queries: [
      '',
      'device=a&device=b',
      'device=',
      `device=${encodeURIComponent('\u202edev_0123456789abcdef')}`,
      'device=dev_0123456789abcdef%00',
      `device=${'d'.repeat(10_000)}`,
      "device=x'%20OR%201=1--",
      'device=dev_0123456789abcdef&device=dev_fedcba9876543210',
      'device=dev_0123456789abcdef&caps=webgpu:1&caps=webgpu:0',
    ],
  },
  {
    // A cohort outside the model's allow-list is no cohort, never an error: these may be served,
    // and must change nothing.
    path: (t) => `/v1/assign/${t.model}`,
    device: true,
    mayPass: true,
    queries: [
      'device=dev_0123456789abcdef&cohort=',
      `device=dev_0123456789abcdef&cohort=${'c'.repeat(10_000)}`,
      "device=dev_0123456789abcdef&cohort=x'%20OR%201=1--",
      'device=dev_0123456789abcdef&cohort=store-0001&cohort=store-0002',
      `device=dev_0123456789abcdef&cohort=${encodeURIComponent('\u202estore-0001')}`,
      'device=dev_0123456789abcdef&cohort=%00',
    ],
  },
  {
    path: () => '/v1/events',
    queries: ['limit=-1', 'limit=1e309', 'limit=NaN', 'limit=abc', 'limit=1&limit=2', 'model=%00'],
  },
  { path: () => '/v1/models', queries: ['limit=0', 'limit=Infinity', 'limit=99999999999999999999'] },
  {
    path: (t) => `/v1/models/${t.model}/telemetry`,
    queries: [
      'from=abc',
      'from=-1e308',
      'to=1e309',
      'from=1&from=2',
      'version=NaN',
      'version=0',
      'granularity=%00',
      'granularity=hour&granularity=day',
    ],
  },
  { path: (t) => `/v1/models/${t.model}/runs`, queries: ['limit=-3', 'limit=x', 'status=%27%3B--'] },
]

/** Ranges no byte of a 4-byte artifact satisfies (416). */
const UNSATISFIABLE = ['bytes=999999-', 'bytes=4-', 'bytes=100-200', 'bytes=-0', 'bytes=' + '9'.repeat(400) + '-']
/** Ranges that do not parse or ask for many parts: served whole or in part, never a 5xx. */
const MALFORMED_RANGES = [
  'bytes=5-1',
  'bytes=0-0,1-1,2-2,3-3,' + '0-0,'.repeat(1000) + '0-0',
  'bytes=-' + '9'.repeat(400),
  'items=0-1',
  'bytes=a-b',
]

/**
 * Generates `n` or more hostile requests across every route, seeded so a failure replays. Each one is
 * malformed or unauthorised in a way the edge must refuse with a 4xx.
 */
export function hostileRequests(t: Target, seed: number, n: number): HostileRequest[] {
  const rand = seededRandom(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
  const auth = (device?: boolean): Record<string, string> =>
    device ? { 'X-Edgefleet-Key': t.appKey } : { Authorization: `Bearer ${t.adminToken}` }
  const out: HostileRequest[] = []
  const json = (r: JsonRoute, kind: string, body: string | Uint8Array, extra: Record<string, string> = {}) =>
    out.push({
      kind,
      method: r.method,
      path: r.path(t),
      headers: { 'Content-Type': 'application/json', ...auth(r.device), ...extra },
      body,
    })

  // Every route at least once with every fixed hostile input.
  for (const r of JSON_ROUTES) {
    for (const raw of RAW_BODIES) json(r, 'invalid-json', raw)
    json(r, 'deep-array', deep(5000, false))
    json(r, 'deep-object', deep(5000, true))
    json(r, 'over-limit', '{"pad":"' + 'x'.repeat(2 * 1024 * 1024) + '"}')
    json(r, 'wrong-content-type', JSON.stringify(r.valid(t)), { 'Content-Type': 'application/xml' })
    json(r, 'form-content-type', 'a=1&b=2', { 'Content-Type': 'application/x-www-form-urlencoded' })
    out.push({
      kind: 'no-content-type',
      method: r.method,
      path: r.path(t),
      headers: auth(r.device),
      body: enc.encode(JSON.stringify(r.valid(t))),
    })
    json(r, 'no-credential', JSON.stringify(r.valid(t)), { Authorization: '', 'X-Edgefleet-Key': '' })
    json(r, 'bad-credential', JSON.stringify(r.valid(t)), {
      Authorization: 'Bearer ef_fake_0000',
      'X-Edgefleet-Key': 'ef_fake_0000',
    })
    json(r, 'wrong-top-level-type', JSON.stringify([r.valid(t)]))
    if (r.path(t, 'SEG') !== r.path(t))
      for (const seg of HOSTILE_SEGMENTS)
        out.push({
          kind: 'hostile-segment',
          method: r.method,
          path: r.path(t, seg),
          headers: { 'Content-Type': 'application/json', ...auth(r.device) },
          body: JSON.stringify(r.valid(t)),
        })
  }
  for (const r of PLAIN_ROUTES)
    for (const seg of HOSTILE_SEGMENTS)
      out.push({ kind: 'hostile-segment', method: r.method, path: r.path(t, seg), headers: auth(r.device) })
  for (const q of QUERY_ROUTES)
    for (const query of q.queries)
      out.push({
        kind: 'hostile-query',
        method: 'GET',
        path: `${q.path(t)}?${query}`,
        headers: auth(q.device),
        ...(q.mayPass ? { mayPass: true } : {}),
      })
  for (const range of [...UNSATISFIABLE, ...MALFORMED_RANGES])
    out.push({
      kind: 'range',
      method: 'GET',
      path: `/v1/artifacts/${t.hash}`,
      headers: { ...auth(true), Range: range },
      mayPass: MALFORMED_RANGES.includes(range),
    })
  for (const inm of ['*', '"' + 'x'.repeat(10_000) + '"', 'W/"', '\u202e', '"a", "b", ' + '"c",'.repeat(500)])
    for (const seg of ['..', 'a%00b', 'A'.repeat(64), 'f'.repeat(63)])
      out.push({
        kind: 'if-none-match',
        method: 'GET',
        path: `/v1/artifacts/${seg}`,
        headers: { ...auth(true), 'If-None-Match': inm },
      })

  // A value of another JSON type than the valid one, so that accepting it would be a bug.
  const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)
  const wrongTypeFor = (valid: unknown): unknown => {
    for (;;) {
      const v = pick(HOSTILE_VALUES)
      if (typeOf(v) !== typeOf(valid)) return v
    }
  }

  // Then random mutations of valid bodies until there are n: a field replaced, dropped or added.
  while (out.length < n) {
    const r = pick(JSON_ROUTES)
    const body: Record<string, unknown> = { ...r.valid(t) }
    const keys = Object.keys(body)
    const key = pick(keys)
    const move = rand()
    let kind: string
    if (move < 0.5) {
      body[key] = wrongTypeFor(body[key])
      kind = 'wrong-value'
    } else if (move < 0.75) {
      delete body[key]
      kind = 'missing-field'
      if (Object.keys(body).length === 0) body.unexpected = pick(HOSTILE_VALUES)
    } else {
      body[`x_${Math.floor(rand() * 1000)}`] = pick(HOSTILE_VALUES)
      body[key] = wrongTypeFor(body[key])
      kind = 'extra-and-wrong'
    }
    json(r, kind, JSON.stringify(body))
  }
  return out
}
