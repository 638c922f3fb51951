import { abortAllDurableObjects, env, runInDurableObject } from 'cloudflare:test'
import { telemetryConfig } from '../../edge/telemetry/config.ts'
import { shardStub } from '../../edge/telemetry/ingest.ts'
import type { TelemetryShard } from '../../edge/telemetry/shard.ts'
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

const ALARM_HOLD_MS = 24 * 3_600_000

/**
 * Restarts every Durable Object on its storage (`abortAllDurableObjects`, as a deploy would), with no
 * shard alarm of `model` able to run meanwhile. The alarm of each of its shards (as many as the edge is
 * configured with), which a shard arms a second after a write, is moved a day out until two readings
 * 20 ms apart find it there: `getAlarm()` reads null while an alarm runs, and that alarm re-arms when
 * it ends. The tests run due jobs themselves with
 * `runDurableObjectAlarm`. An alarm cut off by the abort logs from the aborted object and throws,
 * after which the test runner never finishes its teardown.
 */
export async function restartDurableObjects(model: string): Promise<void> {
  for (let i = 0; i < telemetryConfig(env).shards; i++) {
    const stub = shardStub(env, model, i)
    for (let attempt = 0, held = 0; held < 2; attempt++) {
      if (attempt === 20) throw new Error(`shard ${i} of ${model} keeps re-arming its alarm`)
      const ok = await runInDurableObject(stub, async (_shard: TelemetryShard, state) => {
        const at = await state.storage.getAlarm()
        if (at !== null && at >= Date.now() + ALARM_HOLD_MS / 2) return true
        await state.storage.setAlarm(Date.now() + ALARM_HOLD_MS)
        return false
      })
      held = ok ? held + 1 : 0
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  await abortAllDurableObjects()
}
