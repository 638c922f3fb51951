import { describe, expect, it } from 'vitest'
import type { RolloutAssignView } from '../../core/rollout/assign.ts'
import { RolloutCache, rolloutCacheMs } from '../../edge/assign/rollout-cache.ts'

const view = (percent: number): RolloutAssignView => ({
  id: 'ro_c',
  mode: 'canary',
  status: 'running',
  baseline: 1,
  candidate: 2,
  percent,
  ttlSeconds: 30,
  shadowSampleRate: 0.2,
})

/** A loader whose answers and failures the test sets, counting its calls. */
function loader() {
  const state = {
    calls: 0,
    answer: view(1) as RolloutAssignView | null,
    fail: false,
    gate: null as Promise<void> | null,
  }
  const load = async () => {
    state.calls++
    if (state.gate) await state.gate
    if (state.fail) throw new Error('ModelControl unreachable')
    return state.answer
  }
  return { state, load }
}

describe('the per-isolate rollout cache of the assign route', () => {
  it('reads a model at most once per ttl, and the next read after it sees the change (the kill switch bound)', async () => {
    let now = 0
    const { state, load } = loader()
    const cache = new RolloutCache(load, 5_000, () => now)
    expect(await cache.get('m')).toEqual(view(1))
    state.answer = null // rolled back
    now = 4_999
    expect(await cache.get('m')).toEqual(view(1))
    expect(state.calls).toBe(1)
    now = 5_000
    expect(await cache.get('m')).toBeNull()
    expect(state.calls).toBe(2)
  })

  it('shares one read between concurrent misses, and keeps models apart', async () => {
    const { state, load } = loader()
    let open!: () => void
    state.gate = new Promise((r) => (open = r))
    const cache = new RolloutCache(load, 5_000, () => 0)
    const many = Array.from({ length: 10 }, () => cache.get('m'))
    open()
    expect(await Promise.all(many)).toEqual(Array(10).fill(view(1)))
    expect(state.calls).toBe(1)
    await cache.get('other')
    expect(state.calls).toBe(2)
  })

  it('serves the last known config when a refresh fails, and fails only when nothing is known', async () => {
    let now = 0
    const { state, load } = loader()
    const cache = new RolloutCache(load, 5_000, () => now)
    state.fail = true
    await expect(cache.get('m')).rejects.toThrow('unreachable')
    state.fail = false
    expect(await cache.get('m')).toEqual(view(1))
    state.fail = true
    now = 6_000
    expect(await cache.get('m')).toEqual(view(1))
    state.fail = false
    state.answer = view(5)
    expect(await cache.get('m')).toEqual(view(5))
  })

  it('forgets a model at once (an action taken in this isolate), and 0 s reads every time', async () => {
    const { state, load } = loader()
    const cache = new RolloutCache(load, 5_000, () => 0)
    await cache.get('m')
    state.answer = view(50)
    cache.forget('m')
    expect(await cache.get('m')).toEqual(view(50))
    const uncached = new RolloutCache(load, 0, () => 0)
    await uncached.get('m')
    await uncached.get('m')
    expect(state.calls).toBe(4)
  })

  it('reads ROLLOUT_CACHE_SECONDS, never beyond 5 s', () => {
    expect(rolloutCacheMs({})).toBe(5_000)
    expect(rolloutCacheMs({ ROLLOUT_CACHE_SECONDS: '2' })).toBe(2_000)
    expect(rolloutCacheMs({ ROLLOUT_CACHE_SECONDS: '0' })).toBe(0)
    expect(rolloutCacheMs({ ROLLOUT_CACHE_SECONDS: '60' })).toBe(5_000)
    expect(rolloutCacheMs({ ROLLOUT_CACHE_SECONDS: 'soon' })).toBe(5_000)
  })
})
