import {
  createExecutionContext,
  env,
  listDurableObjectIds,
  runInDurableObject,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { beforeAll, describe, expect, it } from 'vitest'
import { ERROR_STATUS } from '../../core/errors.ts'
import worker from '../../edge/index.ts'
import { ADMIN, api, bodyOf, resetState, sha256, snapshot, upload } from './api.ts'
import { hostileRequests, type HostileRequest, type Target } from './hostile-requests.ts'
import { publishVersion } from './rollout-fixtures.ts'
import { appKey, setupModel } from './telemetry-fixtures.ts'

const SEED = 16
const COUNT = 1200

let target: Target

beforeAll(async () => {
  await resetState()
  const model = await setupModel('hostile')
  const candidate = await publishVersion(model, 7)
  const file = await upload('model.onnx', new Uint8Array([1, 2, 3, 4]))
  const started = await api('POST', `/v1/models/${model}/rollouts`, {
    body: {
      candidate,
      mode: 'canary',
      steps: [
        { percent: 20, minDevices: 5 },
        { percent: 100, minDevices: 5 },
      ],
    },
  })
  if (started.status !== 201) throw new Error(`rollout: ${started.status} ${await started.text()}`)
  const rollout = await bodyOf(started)
  const run = await bodyOf(await api('POST', `/v1/models/${model}/runs`, { body: { reason: 'manual' } }))
  target = {
    model,
    rollout: rollout.id,
    run: run.id ?? 'run_0',
    hash: file.sha256,
    adminToken: ADMIN,
    appKey: await appKey(),
  }
}, 120_000)

/** Every SQL table of every Durable Object of a namespace, by id. */
async function durableState<T extends Rpc.DurableObjectBranded | undefined>(
  ns: DurableObjectNamespace<T>,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  for (const id of await listDurableObjectIds(ns)) {
    out[id.toString()] = await runInDurableObject(ns.get(id), (_instance, state) => {
      const tables = state.storage.sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf%' ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY name",
        )
        .toArray()
      // The refusal counters are the one record a refused report leaves, by design (GET /v1/telemetry/refusals).
      // Empty tables are schema, not state: the refusal shard creates them on its first refusal.
      return tables
        .filter((t) => t.name !== 'refusals')
        .map((t) => [t.name, state.storage.sql.exec(`SELECT * FROM "${t.name}"`).toArray()] as const)
        .filter(([, rows]) => rows.length > 0)
    })
  }
  // An object that was addressed but stored nothing has no state to compare.
  for (const [id, tables] of Object.entries(out)) if ((tables as unknown[]).length === 0) delete out[id]
  return out
}

/** D1, R2 (keys and body hashes) and Durable Object storage, as one string. */
async function everything(): Promise<string> {
  const bodies: [string, string][] = []
  for (const o of (await env.ARTIFACTS.list()).objects) {
    const obj = await env.ARTIFACTS.get(o.key)
    bodies.push([o.key, await sha256(new Uint8Array(await obj!.arrayBuffer()))])
  }
  return JSON.stringify({
    // lastUsedAt records that a valid key was presented, even when the request it came with was refused.
    d1r2: (await snapshot()).replace(/"last_used_at":(null|\d+)/g, '"last_used_at":"used"'),
    bodies,
    control: await durableState(env.MODEL_CONTROL),
    shards: await durableState(env.TELEMETRY_SHARD),
  })
}

/** Sends one request through the Worker's fetch handler in this isolate and reads its whole answer. */
async function send(r: HostileRequest): Promise<{ status: number; contentType: string; text: string }> {
  const ctx = createExecutionContext()
  const res = await worker.fetch(
    new Request(`http://edge.test${r.path}`, {
      method: r.method,
      headers: { 'CF-Connecting-IP': '203.0.113.7', ...r.headers },
      body: r.body,
    }),
    env,
    ctx,
  )
  const text = await res.text()
  await waitOnExecutionContext(ctx)
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text }
}

describe('hostile input on every route', () => {
  it(`refuses ${COUNT} generated hostile requests with a 4xx JSON error and a stable code, changing nothing`, async () => {
    const requests = hostileRequests(target, SEED, COUNT)
    // A gzip bomb: 64 MiB of zeros that compress to about 64 KiB, sent as gzip-encoded telemetry.
    const bomb = new Response(
      new Blob([new Uint8Array(64 * 1024 * 1024)]).stream().pipeThrough(new CompressionStream('gzip')),
    )
    requests.push({
      kind: 'gzip-bomb',
      method: 'POST',
      path: '/v1/telemetry',
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'X-Edgefleet-Key': target.appKey },
      body: new Uint8Array(await bomb.arrayBuffer()),
    })
    const before = await everything()
    const failures: string[] = []
    const byStatus = new Map<number, number>()
    for (const r of requests) {
      const res = await send(r)
      byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1)
      const what = `${r.kind} ${r.method} ${r.path.slice(0, 120)} -> ${res.status} ${res.text.slice(0, 160)}`
      if (res.status >= 500 || (res.status < 400 && !r.mayPass)) {
        failures.push(what)
        continue
      }
      if (res.status < 400) continue
      let code: unknown
      try {
        code = (JSON.parse(res.text) as { error?: { code?: unknown } }).error?.code
      } catch {
        code = undefined
      }
      if (!res.contentType.includes('json') || typeof code !== 'string' || !(code in ERROR_STATUS))
        failures.push(`no stable code: ${what}`)
    }
    console.log(`hostile requests sent: ${requests.length}; by status: ${JSON.stringify([...byStatus].sort())}`)
    expect(failures).toEqual([])
    expect(requests.length).toBeGreaterThanOrEqual(1000)
    expect(await everything()).toBe(before)
  }, 600_000)
})
