import { env, SELF } from 'cloudflare:test'
import { beforeEach, describe, expect, it } from 'vitest'
import { deviceKey } from '../../core/telemetry/device-set.ts'
import { shardOf, shardStub } from '../../edge/telemetry/ingest.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { api, bodyOf, resetState } from './api.ts'
import { appKey, gzip, makeBatch, makeReport, minuteAgo, postBatch, setupModel } from './telemetry-fixtures.ts'

const SHARDS = 4
let key: string
let model: string
const rand = seededRandom(7)
let devices = 0
const nextDevice = () => `dev_ingest_${(++devices).toString().padStart(6, '0')}`

/** Row counts of every shard of a model, summed. */
async function stored(m: string): Promise<{ batches: number; raw: number; cells: number }> {
  const all = await Promise.all(Array.from({ length: SHARDS }, (_, i) => shardStub(env, m, i).inspect()))
  return all.reduce(
    (acc, s) => ({
      batches: acc.batches + s.batches,
      raw: acc.raw + s.raw,
      cells: acc.cells + s.minuteCells + s.hourCells,
    }),
    { batches: 0, raw: 0, cells: 0 },
  )
}

/** The fleet totals of a model's primary cohort (minDevices is 5 in wrangler.toml). */
async function totals(m: string): Promise<any> {
  const res = await api('GET', `/v1/models/${m}/telemetry?granularity=minute&from=${minuteAgo(30)}`)
  expect(res.status).toBe(200)
  return (await bodyOf(res)).cohorts.find((c: any) => c.role === 'primary' && c.rollout === null)?.total
}

beforeEach(async () => {
  await resetState()
  key = await appKey()
  model = await setupModel('ingest')
})

describe('POST /v1/telemetry', { timeout: 30_000 }, () => {
  it('accepts JSON, text/plain (sendBeacon), gzip by header or ?encoding=gzip, and the key in ?key=', async () => {
    const variants: Parameters<typeof postBatch>[2][] = [
      {},
      { textPlain: true },
      { gzip: 'header' },
      { gzip: 'query', textPlain: true, keyInQuery: true },
      { keyInQuery: true },
    ]
    let inferences = 0
    for (const o of variants) {
      const report = makeReport(rand, { model, start: minuteAgo(3) })
      inferences += report.counts.inferences
      const res = await postBatch(makeBatch(nextDevice(), [report]), key, o)
      expect(res.status).toBe(202)
      expect(await bodyOf(res)).toEqual({ accepted: 1, duplicate: false })
    }
    expect(await totals(model)).toMatchObject({ suppressed: false, devices: 5, reports: 5, inferences })
  })

  it('counts a batch sent twice once (also when the retry is encoded differently)', async () => {
    const batches = Array.from({ length: 5 }, () =>
      makeBatch(nextDevice(), [makeReport(rand, { model, start: minuteAgo(2) })]),
    )
    for (const b of batches) expect(await bodyOf(await postBatch(b, key))).toEqual({ accepted: 1, duplicate: false })
    const before = await totals(model)
    const again = await postBatch(batches[0], key, { gzip: 'query', textPlain: true })
    expect(again.status).toBe(202)
    expect(await bodyOf(again)).toEqual({ accepted: 0, duplicate: true })
    expect(await totals(model)).toEqual(before)
    expect((await stored(model)).batches).toBe(5)
  })

  it("keeps the drops devices declare, once per batch, under the batch's first model by name", async () => {
    const other = await setupModel('ingest-d')
    const first = [model, other].sort()[0]
    const second = first === model ? other : model
    const sent: Record<string, number> = {}
    const batches = Array.from({ length: 6 }, (_, i) => {
      const dropped: Record<string, number> =
        i % 3 === 2 ? {} : { queue_overflow: 3 + i, ...(i % 2 === 0 ? { too_old: i + 1 } : {}) }
      for (const [reason, n] of Object.entries(dropped)) sent[reason] = (sent[reason] ?? 0) + n
      const batch = makeBatch(nextDevice(), [
        makeReport(rand, { model: second, start: minuteAgo(2) }),
        makeReport(rand, { model: first, start: minuteAgo(2) }),
      ])
      return { ...batch, dropped }
    })
    for (const b of batches) expect((await postBatch(b, key)).status).toBe(202)
    // Retries (one re-encoded) add nothing.
    await postBatch(batches[0], key, { gzip: 'query', textPlain: true })
    await postBatch(batches[1], key)
    const view = async (m: string) =>
      bodyOf(await api('GET', `/v1/models/${m}/telemetry?granularity=minute&from=${minuteAgo(30)}`))
    expect(sent).toEqual({ queue_overflow: 3 + 4 + 6 + 7, too_old: 1 + 5 })
    expect((await view(first)).deviceDropped).toEqual(sent)
    expect((await view(second)).deviceDropped).toEqual({})
  })

  it('absorbs the retry of a batch whose first attempt stored only some parts', async () => {
    const other = await setupModel('ingest-b')
    const made = Array.from({ length: 5 }, () => {
      const device = nextDevice()
      return makeBatch(device, [
        makeReport(rand, { model, start: minuteAgo(4) }),
        makeReport(rand, { model: other, start: minuteAgo(4) }),
      ])
    })
    // The first attempt reached only `model`'s shard before failing (as a Worker dying mid-request would).
    for (const b of made) {
      const [part] = b.reports
      const r = await shardStub(env, model, shardOf(b.device.id, SHARDS)).ingest({
        batchId: b.batchId,
        deviceKey: deviceKey(b.device.id),
        reports: JSON.stringify([part]),
        count: 1,
        sampleRate: b.sampleRate,
        firstWindowStart: part.window.start,
      })
      expect(r).toEqual({ accepted: 1, duplicate: false })
    }
    for (const b of made) expect(await bodyOf(await postBatch(b, key))).toEqual({ accepted: 1, duplicate: true })
    const sum = (m: string) =>
      made.reduce((n, b) => n + b.reports.filter((r) => r.model === m).reduce((k, r) => k + r.counts.inferences, 0), 0)
    expect(await totals(model)).toMatchObject({ reports: 5, inferences: sum(model) })
    expect(await totals(other)).toMatchObject({ reports: 5, inferences: sum(other) })
  })

  it('refuses every bad input with its stable 4xx code and pointer, and stores nothing', async () => {
    const device = nextDevice()
    const good = makeBatch(device, [makeReport(rand, { model, start: minuteAgo(2) })])
    const r0 = good.reports[0]
    const withReport = (patch: Record<string, unknown>) => ({ ...good, reports: [{ ...r0, ...patch }] })
    const tooBig = JSON.stringify({ ...good, pad: 'x'.repeat(70_000) })
    const bomb = await gzip(JSON.stringify({ ...good, pad: ' '.repeat(600_000) }))
    const emptySketch = (alpha: number) => ({ v: 1, alpha, zero: 0, offset: 0, counts: [], n: 0, sum: 0 })
    const cases: [string, () => Promise<Response>, number, string, string?][] = [
      ['no key', () => api('POST', '/v1/telemetry', { token: null, body: good }), 401, 'unauthorized'],
      [
        'a key without the device scope',
        async () =>
          api('POST', '/v1/telemetry', {
            token: (
              await bodyOf(await api('POST', '/v1/tokens', { body: { name: 'reader', scopes: ['telemetry:read'] } }))
            ).token,
            body: good,
          }),
        403,
        'forbidden',
      ],
      [
        'XML',
        () => postBatch(good, key, { headers: { 'Content-Type': 'application/xml' } }),
        415,
        'unsupported_media_type',
      ],
      ['brotli', () => postBatch(good, key, { headers: { 'Content-Encoding': 'br' } }), 415, 'unsupported_media_type'],
      ['over 64 KB', () => postBatch(tooBig, key), 413, 'too_large'],
      [
        'over 64 KB, streamed without Content-Length',
        () => postBatch(good, key, { raw: new Blob([tooBig]).stream() }),
        413,
        'too_large',
      ],
      [
        'a gzip bomb (over 512 KB inflated)',
        () => postBatch(good, key, { raw: bomb, headers: { 'Content-Encoding': 'gzip' } }),
        413,
        'too_large',
      ],
      [
        'broken gzip',
        () => postBatch(good, key, { raw: 'not gzip at all', headers: { 'Content-Encoding': 'gzip' } }),
        400,
        'bad_request',
      ],
      ['broken JSON', () => postBatch('{"v": 1,', key), 400, 'invalid_json'],
      [
        'a window not on UTC minutes',
        () => postBatch(withReport({ window: { start: r0.window.start + 1, end: r0.window.end } }), key),
        400,
        'validation_failed',
        '/reports/0/window',
      ],
      [
        'an unknown model',
        () => postBatch(withReport({ model: 'no-such-model' }), key),
        400,
        'validation_failed',
        '/reports/0/model',
      ],
      [
        'an unknown version',
        () => postBatch(withReport({ version: 99 }), key),
        400,
        'validation_failed',
        '/reports/0/version',
      ],
      [
        'a feature the profile lacks',
        () => postBatch(withReport({ features: { ...r0.features, humidity: { counts: [1, 2, 3], missing: 0 } } }), key),
        400,
        'validation_failed',
        '/reports/0/features/humidity',
      ],
      [
        'a histogram on other bins',
        () => postBatch(withReport({ features: { ...r0.features, temp_max: { counts: [1, 2], missing: 0 } } }), key),
        400,
        'validation_failed',
        '/reports/0/features/temp_max/counts',
      ],
      [
        'an output on other bins',
        () => postBatch(withReport({ outputs: { label: { counts: [1], missing: 0 } } }), key),
        400,
        'validation_failed',
        '/reports/0/outputs/label/counts',
      ],
      [
        'a sketch of another alpha',
        () => postBatch(withReport({ latency: emptySketch(0.02) }), key),
        400,
        'validation_failed',
        '/reports/0/latency/alpha',
      ],
      [
        'a window ending 10 minutes ahead',
        () => postBatch(withReport({ window: { start: minuteAgo(-10), end: minuteAgo(-11) } }), key),
        400,
        'too_new',
        '/reports/0/window/end',
      ],
      [
        'a window beyond the 48 h horizon',
        () => postBatch(withReport({ window: { start: minuteAgo(48 * 60 + 2), end: minuteAgo(48 * 60 + 1) } }), key),
        400,
        'too_old',
        '/reports/0/window/start',
      ],
    ]
    for (const [name, send, status, code, pointer] of cases) {
      const res = await send()
      expect(res.status, name).toBe(status)
      const body = await bodyOf(res)
      expect(body.error.code, name).toBe(code)
      if (pointer) expect(body.error.pointer, name).toBe(pointer)
    }
    expect(await stored(model)).toEqual({ batches: 0, raw: 0, cells: 0 })
    // Nothing was remembered either: the corrected batch, same id, is accepted as new.
    expect(await bodyOf(await postBatch(good, key))).toEqual({ accepted: 1, duplicate: false })
  })

  it('rate-limits a device globally with 429 rate_limited and Retry-After, storing nothing', async () => {
    const device = nextDevice()
    let limited: Response | undefined
    let accepted = 0
    // 30 a minute per device (wrangler.toml); a window boundary may reset the count once.
    for (let i = 0; i < 62 && !limited; i++) {
      const res = await postBatch(makeBatch(device, [makeReport(rand, { model, start: minuteAgo(1) })]), key)
      if (res.status === 429) limited = res
      else {
        expect(res.status).toBe(202)
        accepted++
      }
    }
    expect(limited).toBeDefined()
    expect(limited!.headers.get('Retry-After')).toBe('60')
    expect((await bodyOf(limited!)).error.code).toBe('rate_limited')
    expect((await stored(model)).batches).toBe(accepted)
    // Another device is not affected.
    expect(
      (await postBatch(makeBatch(nextDevice(), [makeReport(rand, { model, start: minuteAgo(1) })]), key)).status,
    ).toBe(202)
  }, 30_000)

  it('stops accepting a revoked app key at once, although app keys are cached', async () => {
    const created = await bodyOf(
      await api('POST', '/v1/tokens', { body: { name: 'soon-revoked', scopes: ['device'] } }),
    )
    const send = () =>
      postBatch(makeBatch(nextDevice(), [makeReport(rand, { model, start: minuteAgo(1) })]), created.token)
    expect((await send()).status).toBe(202)
    expect((await send()).status).toBe(202) // served from the per-isolate cache
    expect((await api('DELETE', `/v1/tokens/${created.id}`)).status).toBe(200)
    const refused = await send()
    expect(refused.status).toBe(401)
    expect((await bodyOf(refused)).error.code).toBe('unauthorized')
  })

  it('answers CORS preflights for any origin, allowing Content-Encoding', async () => {
    const res = await SELF.fetch('http://edge.test/v1/telemetry', {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example.com',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,content-encoding,x-edgefleet-key',
      },
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('https://app.example.com')
    expect(res.headers.get('Access-Control-Allow-Headers')?.toLowerCase()).toContain('content-encoding')
  })
})

describe('OpenAPI', () => {
  it('documents both body kinds of POST /v1/telemetry with the telemetry/1 batch schema', async () => {
    const spec = (await (await SELF.fetch('http://edge.test/openapi.json')).json()) as any
    const post = spec.paths['/v1/telemetry'].post
    expect(Object.keys(post.requestBody.content).sort()).toEqual(['application/json', 'text/plain'])
    expect(post.requestBody.content['text/plain'].schema).toEqual({ $ref: '#/components/schemas/TelemetryBatch' })
    expect(spec.components.schemas.TelemetryBatch.properties.reports).toBeTruthy()
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['202', '400', '413', '415', '429']))
    expect(spec.paths['/v1/models/{model}/policy'].put.requestBody.content['application/json'].schema).toBeTruthy()
  })
})

describe('GET /v1/models/:model/telemetry', { timeout: 30_000 }, () => {
  it('needs telemetry:read, 404s an unknown model and refuses a range too long for its granularity', async () => {
    expect((await api('GET', `/v1/models/${model}/telemetry`, { token: key })).status).toBe(403)
    expect((await api('GET', '/v1/models/no-such-model/telemetry')).status).toBe(404)
    const long = await api('GET', `/v1/models/${model}/telemetry?granularity=minute&from=${minuteAgo(2 * 24 * 60)}`)
    expect(long.status).toBe(400)
    expect((await bodyOf(long)).error.code).toBe('validation_failed')
    const empty = await bodyOf(await api('GET', `/v1/models/${model}/telemetry`))
    expect(empty).toMatchObject({ model, granularity: 'hour', minDevices: 5, cohorts: [] })
  })
})
