/**
 * @module
 * Registry and rollout changes racing on one model, as several people and pipelines make them: the end
 * state is always one of the serial orders, each change is recorded by exactly one event, and a version
 * cannot be deprecated while a rollout runs it (nor a rollout start on a version deprecated meanwhile).
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { api, bodyOf, resetState, snapshot } from './api.ts'
import { eventsOf, publishVersion } from './rollout-fixtures.ts'
import { setupModel } from './telemetry-fixtures.ts'

let model: string

beforeEach(async () => {
  await resetState()
  model = await setupModel('race')
})

const STEPS = [
  { percent: 20, minDevices: 5 },
  { percent: 100, minDevices: 5 },
]
const startRollout = (candidate: number) =>
  api('POST', `/v1/models/${model}/rollouts`, {
    body: { candidate, mode: 'canary', steps: STEPS, evaluationSeconds: 30, ttlSeconds: 5 },
  })
const deprecate = (version: number) =>
  api('PATCH', `/v1/models/${model}/versions/${version}`, { body: { deprecated: true } })

describe('deprecation against rollouts', () => {
  it('refuses to deprecate the candidate of an active rollout, changing nothing, and allows it after the rollback', async () => {
    const candidate = await publishVersion(model, 2)
    const started = await startRollout(candidate)
    expect(started.status, await started.clone().text()).toBe(201)
    const rollout = (await bodyOf(started)).id as string
    const before = await snapshot()
    const refused = await deprecate(candidate)
    expect(refused.status).toBe(409)
    const body = await bodyOf(refused)
    expect(body.error.code).toBe('conflict')
    expect(body.error.message).toContain(`candidate of rollout ${rollout}`)
    expect(await snapshot()).toBe(before)

    const back = await api('POST', `/v1/models/${model}/rollouts/${rollout}/rollback`, { body: { reason: 'test' } })
    expect(back.status).toBe(200)
    const done = await deprecate(candidate)
    expect(done.status).toBe(200)
    expect((await bodyOf(done)).deprecated).toBe(true)
    expect((await eventsOf(model, 'version.deprecated')).map((e) => e.details.version)).toEqual([candidate])
  })

  it('settles a start and a deprecation of the same version, sent together, as one of the two serial orders', async () => {
    for (let trial = 0; trial < 8; trial++) {
      const candidate = await publishVersion(model, 100 + trial)
      // Which request is sent first alternates.
      const [start, dep] =
        trial % 2 === 0
          ? await Promise.all([startRollout(candidate), deprecate(candidate)])
          : await Promise.all([deprecate(candidate), startRollout(candidate)]).then(([d, s]) => [s, d])
      const startBody = await bodyOf(start)
      const depBody = await bodyOf(dep)
      const rolloutFirst = start.status === 201 && dep.status === 409 && depBody.error.code === 'conflict'
      const deprecationFirst = dep.status === 200 && start.status === 409 && startBody.error.code === 'deprecated'
      expect(
        rolloutFirst !== deprecationFirst,
        `start ${start.status} ${JSON.stringify(startBody)}, deprecate ${dep.status}`,
      ).toBe(true)
      const started = (await eventsOf(model, 'rollout.started')).filter((e) => e.details.candidate === candidate)
      const deprecated = (await eventsOf(model, 'version.deprecated')).filter((e) => e.details.version === candidate)
      expect([started.length, deprecated.length]).toEqual(rolloutFirst ? [1, 0] : [0, 1])
      if (rolloutFirst) {
        const rb = await api('POST', `/v1/models/${model}/rollouts/${startBody.id}/rollback`, {
          body: { reason: 'next' },
        })
        expect(rb.status).toBe(200)
      }
    }
  })
})

describe('publishes and alias moves racing', () => {
  it('numbers concurrent publishes 2..n+1 with one version.published event each', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => publishVersion(model, 200 + i)))
    expect([...results].sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9])
    const events = await eventsOf(model, 'version.published')
    expect(events.map((e) => e.details.version).sort((a: number, b: number) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9,
    ])
  })

  it('ends an alias on the version of one of the moves, with one alias.moved event per real move', async () => {
    const versions = await Promise.all([2, 3, 4, 5].map((seed) => publishVersion(model, 300 + seed)))
    const moves = await Promise.all(
      versions.map((v) => api('PUT', `/v1/models/${model}/aliases/staging`, { body: { version: v } })),
    )
    for (const m of moves) expect(m.status).toBe(200)
    const finalVersion = (await bodyOf(await api('GET', `/v1/models/${model}`))).aliases.staging
    expect(versions).toContain(finalVersion)
    const moved = (await eventsOf(model, 'alias.moved')).filter((e) => e.details.alias === 'staging')
    expect(moved.length).toBe(versions.length)
    expect(moved.at(-1).details.to).toBe(finalVersion)
  })
})
