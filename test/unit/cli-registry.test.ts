// The registry commands in-process, through the real `run()`, against a fake edge installed as
// `fetch`: argument handling, error lines, and uploading only what the edge lacks.
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createEdgeClient } from '../../cli/edge-client.ts'
import { FakeEdge, runCli, useFakeEdge } from '../helpers/fake-edge.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import { linearClassifier } from '../helpers/onnx-model.ts'
import { formatBytes } from '../../cli/units.ts'

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-registry-'))
const file = (name: string) => join(dir, name)
const rand = seededRandom(11)
const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

// A tfjs graph model folder with two shards (one above the 1 MB progress-bar threshold), and an ONNX file.
const shard1 = bytes(3000)
const shard2 = bytes(1_200_000)
const modelJson = JSON.stringify({
  format: 'graph-model',
  modelTopology: { node: [] },
  weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: [] }],
})
// A real ONNX file (a linear classifier over 4 inputs): publish parses what it sends.
const onnx = linearClassifier(
  Array.from({ length: 4 * 300 }, () => rand()),
  Array.from({ length: 300 }, () => rand()),
  4,
)
const onnxSize = formatBytes(onnx.length)
writeFileSync(file('model.json'), modelJson)
writeFileSync(file('group1-shard1of2.bin'), shard1)
writeFileSync(file('group1-shard2of2.bin'), shard2)
writeFileSync(file('detector.onnx'), onnx)
const profile = {
  v: 1,
  rows: 4,
  features: { x: { type: 'numeric', edges: [1], counts: [2, 2], n: 4, missing: 0, mean: 1, std: 1, min: 0, max: 2 } },
}
writeFileSync(file('profile.json'), JSON.stringify(profile))
writeFileSync(
  file('bad-profile.json'),
  JSON.stringify({ ...profile, features: { x: { ...profile.features.x, n: 5 } } }),
)
writeFileSync(file('signature.json'), '{"kind": "tabular", "features": [')

afterAll(() => rmSync(dir, { recursive: true, force: true }))

let edge: FakeEdge

beforeEach(() => {
  edge = new FakeEdge()
  return useFakeEdge(edge)
})

const cli = runCli

function versionBody(n = 0): any {
  const posts = edge.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/versions'))
  return JSON.parse(new TextDecoder().decode(posts[n].body!))
}

describe('edgefleet publish: what it refuses before anything reaches a device', () => {
  // A tfjs folder whose JSON is not called model.json, as many exporters write it.
  const emotion = join(dir, 'emotion')
  mkdirSync(emotion, { recursive: true })
  const emotionBin = bytes(400)
  writeFileSync(
    join(emotion, 'emotion.json'),
    JSON.stringify({
      format: 'graph-model',
      modelTopology: { node: [] },
      signature: {
        inputs: {
          image: { name: 'image:0', dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '-1' }, { size: '64' }] } },
        },
        outputs: {
          emotion: { name: 'Identity:0', dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '-1' }, { size: '7' }] } },
        },
      },
      weightsManifest: [{ paths: ['emotion.bin'], weights: [] }],
    }),
  )
  writeFileSync(join(emotion, 'emotion.bin'), emotionBin)
  writeFileSync(file('unrelated.bin'), bytes(10))
  writeFileSync(file('fake.onnx'), readFileSync(new URL('../../README.md', import.meta.url)))
  mkdirSync(join(dir, 'other'), { recursive: true })
  writeFileSync(join(dir, 'other', 'detector.onnx'), linearClassifier([1, 2, 3, 4], [0], 4))

  it('takes a tfjs JSON and its shard named together (or as a glob gives them), and a folder whose JSON is not model.json', async () => {
    const listed = await cli('publish', 'emo', join(emotion, 'emotion.json'), join(emotion, 'emotion.bin'))
    expect(listed).toMatchObject({ code: 0 })
    expect(versionBody(0).files.map((f: { path: string }) => f.path)).toEqual(['model.json', 'emotion.bin'])
    expect(versionBody(0).interface).toEqual({
      inputs: [{ name: 'image', dtype: 'float32', shape: [null, 64] }],
      outputs: [{ name: 'emotion', dtype: 'float32', shape: [null, 7] }],
    })
    expect((await cli('publish', 'emo', emotion)).code).toBe(0)
    expect(versionBody(1).files.map((f: { path: string }) => f.path)).toEqual(['model.json', 'emotion.bin'])
  })

  it('refuses a file the tfjs model does not list, by name', async () => {
    const r = await cli('publish', 'emo', join(emotion, 'emotion.json'), file('unrelated.bin'))
    expect(r.code).toBe(1)
    expect(r.err).toContain(`${file('unrelated.bin')}: not listed by ${join(emotion, 'emotion.json')}`)
    expect(r.err).toContain('lists emotion.bin')
    expect(edge.requests).toEqual([])
  })

  it('refuses two different files that would be published under one path, naming both', async () => {
    const r = await cli('publish', 'det', file('detector.onnx'), join(dir, 'other', 'detector.onnx'))
    expect(r.code).toBe(1)
    expect(r.err).toContain(`are different files that would both be published as detector.onnx: drop one of them`)
    expect(edge.requests).toEqual([])
    // The same file twice is one file.
    expect((await cli('publish', 'det', file('detector.onnx'), file('detector.onnx'))).code).toBe(0)
    expect(versionBody(0).files).toHaveLength(1)
  })

  it('refuses a file named .onnx that is not an ONNX model, before any upload', async () => {
    const r = await cli('publish', 'det', file('fake.onnx'))
    expect(r).toMatchObject({ code: 1, out: '' })
    expect(r.err).toMatch(/^edgefleet: parse_error: .*fake\.onnx: not an ONNX model/)
    expect(edge.requests).toEqual([])
  })

  it('uploads a gzip copy beside a file when it saves at least 10%, never beside one that does not compress', async () => {
    // A model file with repetitive weights compresses well; the random ONNX classifier does not.
    const repetitive = join(dir, 'repetitive')
    mkdirSync(repetitive, { recursive: true })
    const weights = new Uint8Array(60_000).map((_, i) => i % 7)
    writeFileSync(
      join(repetitive, 'model.json'),
      JSON.stringify({
        format: 'graph-model',
        modelTopology: { node: [] },
        weightsManifest: [{ paths: ['w.bin'], weights: [] }],
      }),
    )
    writeFileSync(join(repetitive, 'w.bin'), weights)
    expect((await cli('publish', 'rep', repetitive)).code).toBe(0)
    const copy = edge.gzipCopies.get(sha256(weights))
    expect(copy).toBeDefined()
    expect(copy!.length).toBeLessThan(weights.length * 0.9)
    expect((await cli('publish', 'det', file('detector.onnx'))).code).toBe(0)
    expect(edge.gzipCopies.has(sha256(onnx))).toBe(false)
  })

  it('refuses a version whose inputs or outputs break the latest one unless --allow-interface-change', async () => {
    expect((await cli('publish', 'det', file('detector.onnx'))).code).toBe(0)
    const wider = join(dir, 'wider')
    mkdirSync(wider, { recursive: true })
    writeFileSync(join(wider, 'detector.onnx'), linearClassifier([1, 2, 3, 4, 5, 6], [0], 6))
    const before = edge.artifacts.size
    const refused = await cli('publish', 'det', join(wider, 'detector.onnx'))
    expect(refused.code).toBe(1)
    expect(refused.err).toContain('edgefleet: interface_mismatch: these files would break the interface of det v1')
    expect(refused.err).toContain('input x: shape [batch, 4] became [batch, 6]')
    expect(edge.artifacts.size).toBe(before)
    const allowed = await cli('publish', 'det', join(wider, 'detector.onnx'), '--allow-interface-change')
    expect(allowed.code).toBe(0)
    expect(versionBody(1)).toMatchObject({ allowInterfaceChange: true })
  })
})

describe('edgefleet publish', () => {
  it('creates the model and uploads only the files the edge lacks, streaming them with a Content-Length', async () => {
    edge.artifacts.set(sha256(shard1), shard1)
    const r = await cli('publish', 'pose', dir, '--format', 'tfjs-graph')
    expect(r).toMatchObject({ code: 0, out: 'published pose v1 (3 files, 1.20 MB, 2 uploaded, 1 already stored)\n' })
    expect(r.err).toBe(
      `already stored  group1-shard1of2.bin (3.00 kB)\nuploaded        model.json (${modelJson.length} B)\nuploaded        group1-shard2of2.bin (1.20 MB)\n`,
    )
    const puts = edge.requests.filter((req) => req.method === 'PUT')
    expect(puts.map((p) => p.path)).toEqual([
      `/v1/artifacts/${sha256(Buffer.from(modelJson))}`,
      `/v1/artifacts/${sha256(shard2)}`,
    ])
    expect(puts.map((p) => p.headers.get('Content-Length'))).toEqual([String(modelJson.length), String(shard2.length)])
    expect(edge.calls('HEAD')).toHaveLength(3)
    expect(edge.models.get('pose')).toMatchObject({ format: 'tfjs-graph', task: 'generic' })
    expect(versionBody().files).toEqual([
      { path: 'model.json', sha256: sha256(Buffer.from(modelJson)), size: modelJson.length },
      { path: 'group1-shard1of2.bin', sha256: sha256(shard1), size: shard1.length },
      { path: 'group1-shard2of2.bin', sha256: sha256(shard2), size: shard2.length },
    ])
  })

  it('publishes model.json given directly the same way; again, it uploads nothing and makes v2', async () => {
    expect((await cli('publish', 'pose', file('model.json'))).out).toContain(
      'published pose v1 (3 files, 1.20 MB, 3 uploaded, 0 already stored)',
    )
    const before = edge.requests.length
    const again = await cli('publish', 'pose', file('model.json'), '--parent', '1')
    expect(again).toMatchObject({
      code: 0,
      out: 'published pose v2 (3 files, 1.20 MB, 0 uploaded, 3 already stored)\n',
    })
    expect(
      edge.requests
        .slice(before)
        .map((r) => r.method)
        .sort(),
    ).toEqual(['GET', 'GET', 'HEAD', 'HEAD', 'HEAD', 'POST'])
    // The model, then the latest version's manifest (its interface is compared before any upload).
    expect(edge.requests.slice(before, before + 2).map((r) => r.path)).toEqual([
      '/v1/models/pose',
      '/v1/models/pose/versions/1',
    ])
    expect(versionBody(1)).toMatchObject({ lineage: { parent: 1 } })
  })

  it('publishes an .onnx file under its basename with metrics, lineage, profile and an alias; --json prints the manifest', async () => {
    const args = [
      'publish',
      'det',
      file('detector.onnx'),
      '--metric',
      'acc=0.9',
      '--metric',
      'f1=0.8',
      '--data-hash',
      'sha256:aa',
      '--profile',
      file('profile.json'),
    ]
    const r = await cli(...args, '--alias', 'production', '--json')
    expect(r.code).toBe(0)
    const manifest = JSON.parse(r.out)
    expect(manifest).toMatchObject({
      model: 'det',
      version: 1,
      format: 'onnx',
      metrics: { acc: 0.9, f1: 0.8 },
      lineage: { dataHash: 'sha256:aa' },
    })
    expect(manifest.files).toEqual([
      {
        path: 'detector.onnx',
        sha256: sha256(onnx),
        size: onnx.length,
        url: `${edge.origin}/v1/artifacts/${sha256(onnx)}`,
      },
    ])
    expect(versionBody().profile).toEqual({ ...profile, outputs: {} })
    expect(edge.models.get('det')!.aliases).toEqual({ production: 1 })
    const plain = await cli('publish', 'det', file('detector.onnx'), '--alias', 'production')
    expect(plain.out).toBe(
      `published det v2 (1 file, ${onnxSize}, 0 uploaded, 1 already stored)\ndet production → v2 (was v1)\n`,
    )
  })

  it('counts a file stored by someone else between the check and the upload as already stored', async () => {
    edge.onRequest = (req) => {
      if (req.method !== 'PUT') return
      edge.artifacts.set(sha256(onnx), onnx)
      // What Node's fetch reports when the edge answers a PUT of stored bytes without reading them.
      throw new TypeError('terminated', { cause: Object.assign(new Error('write ECONNRESET'), { code: 'ECONNRESET' }) })
    }
    const r = await cli('publish', 'det', file('detector.onnx'))
    expect(r.out).toBe(`published det v1 (1 file, ${onnxSize}, 0 uploaded, 1 already stored)\n`)
    expect(edge.calls('HEAD', 'PUT')).toEqual(['HEAD', 'PUT', 'HEAD'].map((m) => `${m} /v1/artifacts/${sha256(onnx)}`))
  })

  it('says which scopes publishing needs when the token lacks one', async () => {
    edge.answer(
      'GET',
      /^\/v1\/models\/det$/,
      new Response(
        JSON.stringify({ error: { code: 'forbidden', message: 'this route needs the scope registry:read' } }),
        { status: 403 },
      ),
    )
    const r = await cli('publish', 'det', file('detector.onnx'))
    expect(r.err).toBe(
      'edgefleet: forbidden: this route needs the scope registry:read (publishing needs registry:read and registry:write)\n',
    )
  })

  it('checks profile and signature files before any request: one line naming the file and the pointer', async () => {
    const bad = await cli('publish', 'det', file('detector.onnx'), '--profile', file('bad-profile.json'))
    expect(bad).toMatchObject({ code: 1, out: '' })
    expect(bad.err).toBe(
      `edgefleet: validation_failed: ${file('bad-profile.json')}: features/x/n: counts must sum to n (at /features/x/n)\n`,
    )
    const sig = await cli('publish', 'det', file('detector.onnx'), '--signature', file('signature.json'))
    expect(sig.code).toBe(1)
    expect(sig.err).toMatch(new RegExp(`^edgefleet: parse_error: ${file('signature.json')}: invalid JSON: .*\\n$`))
    const missing = await cli('publish', 'det', file('nope.onnx'))
    expect(missing.err).toBe(`edgefleet: not_found: ${file('nope.onnx')}: no such file or folder\n`)
    expect(edge.requests).toEqual([])
  })

  it('refuses files that do not make a model of the format, and a format the model does not have', async () => {
    const r = await cli('publish', 'det', file('group1-shard1of2.bin'), '--format', 'onnx')
    expect(r.err).toBe('edgefleet: validation_failed: an onnx version has exactly one .onnx file (found 0)\n')
    await cli('publish', 'det', file('detector.onnx'))
    const other = await cli('publish', 'det', dir)
    expect(other.err).toBe('edgefleet: conflict: model "det" is onnx; these files are published as tfjs-graph\n')
    expect(edge.calls('PUT')).toHaveLength(1)
  })
})

describe('errors and arguments', () => {
  it("prints the edge's error as one line with its code and pointer, exit 1", async () => {
    edge.answer(
      'PUT',
      /aliases/,
      new Response(
        JSON.stringify({
          error: { code: 'deprecated', message: 'version 3 is deprecated and cannot be aliased', pointer: '/version' },
        }),
        { status: 409 },
      ),
    )
    const r = await cli('alias', 'det', 'production', 'v3')
    expect(r).toEqual({
      code: 1,
      out: '',
      err: 'edgefleet: deprecated: version 3 is deprecated and cannot be aliased (at /version)\n',
    })
    expect(await cli('versions', 'ghost')).toEqual({
      code: 1,
      out: '',
      err: 'edgefleet: not_found: model "ghost" does not exist\n',
    })
  })

  it('says in one line that the edge cannot be reached, naming the URL', async () => {
    const r = await cli('models', '--url', 'http://nowhere.invalid:8787/')
    expect(r).toEqual({
      code: 1,
      out: '',
      err: 'edgefleet: network_error: cannot reach the edge at http://nowhere.invalid:8787 (ENOTFOUND): start a local one with `npm start`, or point EDGEFLEET_URL (or --url) at yours\n',
    })
  })

  it('takes --url and --token over the environment, and fails early without a token', async () => {
    vi.stubEnv('EDGEFLEET_URL', 'http://elsewhere.test')
    vi.stubEnv('EDGEFLEET_TOKEN', 'wrong')
    expect((await cli('models', '--url', edge.origin, '--token', edge.token)).code).toBe(0)
    expect(edge.requests[0].headers.get('Authorization')).toBe(`Bearer ${edge.token}`)
    expect(await cli('models', '--url', edge.origin)).toMatchObject({
      code: 1,
      err: 'edgefleet: unauthorized: the token is unknown or revoked\n',
    })
    vi.stubEnv('EDGEFLEET_TOKEN', '')
    expect(await cli('models', '--url', edge.origin)).toMatchObject({
      code: 1,
      err: 'edgefleet: unauthorized: no token: pass --token or set EDGEFLEET_TOKEN\n',
    })
    expect(edge.requests).toHaveLength(2)
  })

  it.each([
    [['alias', 'det', 'production', 'three'], 'expected a version number'],
    [['publish', 'det', 'm.onnx', '--metric', 'acc'], 'expected name=number'],
    [['publish', 'det', 'm.onnx', '--format', 'pytorch'], 'Allowed choices are onnx, tfjs-layers, tfjs-graph'],
    [['publish', 'det'], "missing required argument 'file'"],
    [['tokens', 'create', 'ci'], "required option '--scope <scopes>' not specified"],
    [['events', '--limit', '0'], 'expected an integer from 1'],
  ])('%j is a usage error (exit 2) that sends nothing', async (args, message) => {
    const r = await cli(...args)
    expect(r.code).toBe(2)
    expect(r.err).toContain(message)
    expect(edge.requests).toEqual([])
  })
})

describe('edgefleet events', () => {
  const event = (seq: number, type = 'alias.moved') => ({
    id: `evt_${seq}`,
    seq,
    type,
    model: 'det',
    actor: 'ci',
    at: Date.UTC(2026, 3, 26) + seq,
    details: { alias: 'production', from: seq - 1 || null, to: seq },
  })

  it('pages through the trail with the cursor, one readable line per event', async () => {
    edge.events = Array.from({ length: 1203 }, (_, i) => event(i + 1))
    const all = await cli('events')
    expect(all.out.trimEnd().split('\n')).toHaveLength(1203)
    expect(edge.requests.map((r) => r.search)).toEqual(['?limit=500', '?after=500&limit=500', '?after=1000&limit=500'])
    expect(all.out.split('\n')[0]).toBe(
      '2026-04-26T00:00:00.001Z  alias.moved         det               ci  production → v1',
    )
    expect(all.out.split('\n')[1]).toMatch(/ci {2}production v1 → v2$/)
    const some = await cli('events', '--model', 'det', '--type', 'alias.*', '--limit', '3', '--json')
    expect(
      some.out
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).seq),
    ).toEqual([1, 2, 3])
    expect(edge.requests.at(-1)!.search).toBe('?model=det&type=alias.*&limit=3')
  })

  it('prints rollout events compactly, counting steps from 1 as `rollout status` does', async () => {
    const config = {
      candidate: 2,
      baseline: 1,
      mode: 'canary',
      steps: [1, 5, 25, 100].map((percent) => ({ percent, minMinutes: 5, minDevices: 100, minInferences: 1000 })),
      guardrails: [
        { metric: 'error_rate', maxDiff: 0.005 },
        { metric: 'latency_p95', maxRatio: 1.2 },
      ],
    }
    const at = Date.UTC(2026, 3, 26)
    const base = { model: 'det', actor: 'rollout', at }
    edge.events = [
      {
        ...base,
        id: 'evt_1',
        seq: 1,
        type: 'rollout.started',
        details: { rollout: 'ro_1', mode: 'canary', candidate: 2, baseline: 1, percent: 1, config },
      },
      {
        ...base,
        id: 'evt_2',
        seq: 2,
        type: 'rollout.advanced',
        details: {
          rollout: 'ro_1',
          steps: 4,
          reason: 'guardrails_passed',
          from: { status: 'running', step: 0, percent: 1 },
          to: { status: 'running', step: 1, percent: 5 },
        },
      },
      {
        ...base,
        id: 'evt_3',
        seq: 3,
        type: 'rollout.rolled_back',
        details: {
          rollout: 'ro_1',
          steps: 4,
          reason: 'latency_p95',
          from: { status: 'running', step: 1, percent: 5 },
          to: { status: 'rolled_back', step: 1, percent: 0 },
        },
      },
      { ...base, id: 'evt_4', seq: 4, type: 'model.note', details: { text: 'x'.repeat(900) } },
    ]
    const lines = (await cli('events')).out.trimEnd().split('\n')
    expect(lines[0]).toMatch(/ro_1 canary v1 → v2 at 1% \(steps 1, 5, 25, 100%; 2 guardrails\)$/)
    expect(lines[1]).toMatch(/ro_1 step 1\/4 \(1%\) → step 2\/4 \(5%\): guardrails_passed$/)
    expect(lines[2]).toMatch(/ro_1 step 2\/4 \(5%\) → step 2\/4 \(0%\) rolled_back: latency_p95$/)
    for (const line of lines) expect(line.length).toBeLessThan(160)
  })

  it('--follow polls after the last event seen until --limit is reached', async () => {
    edge.events = [event(1, 'model.created')]
    edge.onRequest = () => {
      if (edge.requests.length === 2) edge.events.push(event(2), event(3))
    }
    const r = await cli('events', '--follow', '--interval', '0.01', '--limit', '3')
    expect(r.code).toBe(0)
    expect(
      r.out
        .trimEnd()
        .split('\n')
        .map((l) => l.split(/\s+/)[1]),
    ).toEqual(['model.created', 'alias.moved', 'alias.moved'])
    expect(edge.requests.map((q) => q.search)).toEqual(['?limit=3', '?after=1&limit=2'])
  })
})

describe('models, versions and tokens', () => {
  it('lists models and versions as tables, or JSON', async () => {
    await cli('publish', 'det', file('detector.onnx'), '--metric', 'acc=0.9', '--alias', 'production')
    await cli('publish', 'det', file('detector.onnx'), '--parent', '1', '--metric', 'acc=0.7103825136612022')
    expect((await cli('models')).out).toBe(
      'name  format  task     latest  aliases\n----  ------  -------  ------  -------------\ndet   onnx    generic      v2  production=v1\n',
    )
    const versions = (await cli('versions', 'det')).out.split('\n')
    expect(versions[2]).toBe(
      `     v2      1  ${onnxSize}  2026-04-26T12:01:00Z  admin      v1                          acc=0.7104`,
    )
    expect(versions[3]).toBe(
      `     v1      1  ${onnxSize}  2026-04-26T12:00:00Z  admin       -  production              acc=0.9`,
    )
    expect(JSON.parse((await cli('versions', 'det', '--json')).out).map((v: any) => v.version)).toEqual([2, 1])
  })

  it('creates a token, printing the secret once with a warning; lists and revokes', async () => {
    const created = await cli(
      'tokens',
      'create',
      'ci',
      '--scope',
      'registry:read,registry:write',
      '--origin',
      'https://app.example.com',
    )
    expect(created).toEqual({
      code: 0,
      out: 'ef_the-secret\n',
      err: 'created tok_0000000000000000 "ci" (registry:read, registry:write)\nwarning: this is the only time the secret is shown; store it now (e.g. as EDGEFLEET_TOKEN)\n',
    })
    expect(JSON.parse(new TextDecoder().decode(edge.requests[0].body!))).toEqual({
      name: 'ci',
      scopes: ['registry:read', 'registry:write'],
      origins: ['https://app.example.com'],
    })
    const list = await cli('tokens', 'list')
    expect(list.out).toMatch(
      /^tok_0000000000000000\s+ci\s+registry:read,registry:write\s+https:\/\/app\.example\.com\s+1970-01-01T00:00:00Z\s+-\s+active$/m,
    )
    expect(list.out).not.toContain('ef_the-secret')
    expect((await cli('tokens', 'revoke', 'tok_0000000000000000')).out).toBe('revoked tok_0000000000000000 "ci"\n')
    const bad = await cli('tokens', 'create', 'ci', '--scope', 'device,admin')
    expect(bad).toMatchObject({
      code: 1,
      err: 'edgefleet: validation_failed: token: scopes: an app key has the single scope "device" (at /scopes)\n',
    })
    expect(edge.requests).toHaveLength(3)
  })
})

describe('createEdgeClient', () => {
  it('explains a refused HEAD by asking for one byte, and surfaces the edge code', async () => {
    const fake = new FakeEdge()
    const client = createEdgeClient({ url: `${fake.origin}/`, token: 'revoked', fetch: fake.fetch })
    await expect(client.hasArtifact('a'.repeat(64))).rejects.toMatchObject({
      code: 'unauthorized',
      message: 'the token is unknown or revoked',
    })
    expect(fake.requests.map((r) => [r.method, r.headers.get('Range')])).toEqual([
      ['HEAD', null],
      ['GET', 'bytes=0-0'],
    ])
    const ok = createEdgeClient({ url: fake.origin, token: fake.token, fetch: fake.fetch })
    expect(await ok.hasArtifact('a'.repeat(64))).toBe(false)
    // A read whose kept-alive connection dropped before an answer is sent once more; a write never is.
    const dropped = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'UND_ERR_SOCKET' } })
    const sent: string[] = []
    let drops = 0
    const flaky = createEdgeClient({
      url: fake.origin,
      token: fake.token,
      fetch: async (input, init) => {
        sent.push(init?.method ?? 'GET')
        if (drops-- > 0) throw dropped()
        return fake.fetch(input, init)
      },
    })
    drops = 1
    expect(await flaky.listModels()).toEqual([])
    expect(sent).toEqual(['GET', 'GET'])
    drops = 2
    await expect(flaky.listModels()).rejects.toMatchObject({ code: 'network_error', message: /UND_ERR_SOCKET/ })
    drops = 1
    sent.length = 0
    await expect(flaky.createModel({ name: 'm', format: 'onnx' })).rejects.toMatchObject({ code: 'network_error' })
    expect(sent).toEqual(['POST'])
    // Recording a run is a write the edge deduplicates by the run's id: it is sent once more.
    drops = 1
    sent.length = 0
    await flaky.createRun('m', { id: 'run_00000000000000000000' } as never).catch(() => undefined)
    expect(sent).toEqual(['POST', 'POST'])
    expect(() => createEdgeClient({ url: 'ftp://x' })).toThrow(/not an http\(s\) URL/)
    const stuck = createEdgeClient({
      url: fake.origin,
      token: fake.token,
      timeoutMs: 20,
      fetch: (_, init) =>
        new Promise((_, reject) => init!.signal!.addEventListener('abort', () => reject(init!.signal!.reason))),
    })
    await expect(stuck.listModels()).rejects.toMatchObject({
      code: 'network_error',
      message: 'the edge at http://edge.test did not answer GET /v1/models?limit=1000 within 0.02 s',
    })
    expect(readFileSync(file('model.json'), 'utf8')).toBe(modelJson)
  })
})
