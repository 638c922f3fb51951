// `edgefleet cohorts` and `rollout start --cohorts` in-process, through the real `run()`, against the
// fake edge installed as `fetch`: what is sent, what is printed, and what is refused before sending.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeEdge, runCli, useFakeEdge } from '../helpers/fake-edge.ts'

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-cohorts-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let edge: FakeEdge
beforeEach(() => {
  edge = new FakeEdge()
  return useFakeEdge(edge)
})

const jsonOf = (b: Uint8Array | null) => JSON.parse(new TextDecoder().decode(b!))
const ok = (body: unknown) => new Response(JSON.stringify(body), { status: 200 })
const view = (values: string[], pins: unknown[] = []) => ({
  model: 'det',
  name: 'store',
  values,
  pins,
  updatedAt: Date.UTC(2026, 11, 5, 12),
  updatedBy: 'admin',
})

describe('edgefleet cohorts', () => {
  it('sets the allow-list from --values or a file, checked before sending', async () => {
    edge.answer('PUT', /\/cohorts$/, ok(view(['store-0001', 'store-0002'])))
    const r = await runCli('cohorts', 'set', 'det', '--name', 'store', '--values', 'store-0001, store-0002')
    expect(r.code, r.err).toBe(0)
    expect(r.out).toContain('det cohorts: 2 store labels')
    const [put] = edge.requests.filter((q) => q.method === 'PUT')
    expect(put.path).toBe('/v1/models/det/cohorts')
    expect(jsonOf(put.body)).toEqual({ name: 'store', values: ['store-0001', 'store-0002'] })

    const list = join(dir, 'stores.txt')
    writeFileSync(list, '# the seed stores\nstore-0001\n\nstore-0002\nstore-0003\n')
    edge.answer('PUT', /\/cohorts$/, ok(view(['store-0001', 'store-0002', 'store-0003'])))
    expect((await runCli('cohorts', 'set', 'det', '--name', 'store', '--file', list)).code).toBe(0)
    expect(jsonOf(edge.requests.filter((q) => q.method === 'PUT')[1].body).values).toEqual([
      'store-0001',
      'store-0002',
      'store-0003',
    ])

    // A free-text label is refused locally, with its pointer; nothing is sent.
    const bad = await runCli('cohorts', 'set', 'det', '--name', 'store', '--values', 'store-0001,Main Street')
    expect(bad.code).toBe(1)
    expect(bad.err).toMatch(/^edgefleet: validation_failed: cohorts: values\/1: a cohort label .*\(at \/values\/1\)\n$/)
    expect(edge.calls('PUT')).toHaveLength(2)
  })

  it('pins and unpins, printing where the cohort was', async () => {
    edge.answer('PUT', /\/pin$/, ok({ model: 'det', cohort: 'store-0001', version: 3, previous: null }))
    const pin = await runCli('cohorts', 'pin', 'det', 'store-0001', 'v3')
    expect(pin.out).toBe('det cohort store-0001 → v3 (was unpinned)\n')
    expect(jsonOf(edge.requests.find((q) => q.method === 'PUT')!.body)).toEqual({ version: 3 })
    edge.answer('DELETE', /\/pin$/, ok({ model: 'det', cohort: 'store-0001', version: null, previous: 3 }))
    const unpin = await runCli('cohorts', 'unpin', 'det', 'store-0001')
    expect(unpin.out).toBe('det cohort store-0001 → unpinned (follows production) (was v3)\n')
    expect(edge.calls('PUT', 'DELETE')).toEqual([
      'PUT /v1/models/det/cohorts/store-0001/pin',
      'DELETE /v1/models/det/cohorts/store-0001/pin',
    ])
  })

  it('prints the allow-list and pins', async () => {
    const stores = Array.from({ length: 12 }, (_, i) => `store-${String(i).padStart(4, '0')}`)
    edge.answer(
      'GET',
      /\/cohorts$/,
      ok(view(stores, [{ cohort: 'store-0003', version: 2, pinnedAt: Date.UTC(2026, 11, 5), pinnedBy: 'ops' }])),
    )
    const r = await runCli('cohorts', 'get', 'det')
    expect(r.out).toContain('det cohorts: 12 store labels')
    expect(r.out).toContain('… (2 more)')
    expect(r.out).toMatch(/ {2}store-0003 → v2 \(.+ by ops\)/)
  })
})

describe('edgefleet rollout start --cohorts', () => {
  it('sends targeting.cohorts, merged with --target', async () => {
    edge.answer(
      'POST',
      /\/rollouts$/,
      new Response(JSON.stringify({ error: { code: 'conflict', message: 'x' } }), { status: 409 }),
    )
    await runCli(
      'rollout',
      'start',
      'det',
      '2',
      '--steps',
      '10,100',
      '--min-devices',
      '5',
      '--cohorts',
      'store-0001,store-0002',
      '--target',
      'webgpu=true',
    )
    const post = edge.requests.find((q) => q.method === 'POST')!
    expect(jsonOf(post.body).targeting).toEqual({ webgpu: true, cohorts: ['store-0001', 'store-0002'] })
  })

  it('refuses a malformed cohort before any request (usage error)', async () => {
    const r = await runCli(
      'rollout',
      'start',
      'det',
      '2',
      '--steps',
      '100',
      '--min-devices',
      '5',
      '--cohorts',
      'Main Street',
    )
    expect(r.code).toBe(2)
    expect(r.err).toContain('--cohorts')
    expect(edge.calls('POST')).toEqual([])
  })
})
