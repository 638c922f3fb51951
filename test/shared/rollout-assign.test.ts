import { describe, expect, it } from 'vitest'
import { EdgefleetError } from '../../core/errors.ts'
import { RolloutConfig, type RolloutState } from '../../core/formats/rollout.ts'
import { armOf, isTargeted } from '../../core/rollout/assign.ts'
import { isActive, nextState } from '../../core/rollout/machine.ts'
import { seededDeviceIds as seededDevices } from '../../scripts/lib/random.ts'

const STEPS = [1, 5, 25, 50, 100]

describe('assignment by bucket/1 (core/rollout/assign.ts)', () => {
  it('for 100k seeded devices the candidate share is within 4·sqrt(p(1−p)/n) of every step, and no device ever leaves the candidate as the share grows', () => {
    const devices = seededDevices(100_000, 20261126)
    const id = 'ro_0123456789abcdef'
    let previous: boolean[] | null = null
    for (const percent of STEPS) {
      const inCandidate = devices.map((d) => armOf({ id, percent }, d, { webgpu: false }) === 'candidate')
      const n = devices.length
      const p = percent / 100
      const share = inCandidate.filter(Boolean).length / n
      expect(Math.abs(share - p), `step ${percent}%`).toBeLessThanOrEqual(4 * Math.sqrt((p * (1 - p)) / n))
      if (previous) expect(previous.every((was, i) => !was || inCandidate[i])).toBe(true)
      previous = inCandidate
    }
    expect(previous!.every(Boolean)).toBe(true)
  })

  it('gives independent splits to different rollouts (each salts with its own id)', () => {
    const devices = seededDevices(20_000, 7)
    const a = devices.map((d) => armOf({ id: 'ro_a', percent: 50 }, d, { webgpu: false }) === 'candidate')
    const b = devices.map((d) => armOf({ id: 'ro_b', percent: 50 }, d, { webgpu: false }) === 'candidate')
    const both = a.filter((x, i) => x && b[i]).length / devices.length
    // Independent halves overlap on a quarter of devices.
    expect(Math.abs(both - 0.25)).toBeLessThanOrEqual(4 * Math.sqrt((0.25 * 0.75) / devices.length))
  })

  it('targets by capabilities and an allow-list; untargeted devices carry no arm', () => {
    const caps = { webgpu: true, f16: true, deviceMemory: 8, platform: 'macos' }
    expect(isTargeted(undefined, 'dev_a', { webgpu: false })).toBe(true)
    expect(isTargeted({ webgpu: true }, 'dev_a', caps)).toBe(true)
    expect(isTargeted({ webgpu: true }, 'dev_a', { webgpu: false })).toBe(false)
    expect(isTargeted({ f16: true }, 'dev_a', { webgpu: true })).toBe(false)
    expect(isTargeted({ minDeviceMemory: 4 }, 'dev_a', caps)).toBe(true)
    expect(isTargeted({ minDeviceMemory: 16 }, 'dev_a', caps)).toBe(false)
    expect(isTargeted({ minDeviceMemory: 4 }, 'dev_a', { webgpu: true })).toBe(false)
    expect(isTargeted({ platforms: ['linux', 'macos'] }, 'dev_a', caps)).toBe(true)
    expect(isTargeted({ platforms: ['linux'] }, 'dev_a', caps)).toBe(false)
    expect(isTargeted({ devices: ['dev_qa_1'] }, 'dev_qa_1', { webgpu: false })).toBe(true)
    expect(isTargeted({ devices: ['dev_qa_1'] }, 'dev_a', caps)).toBe(false)
    expect(armOf({ id: 'ro_x', percent: 100, targeting: { platforms: ['linux'] } }, 'dev_a', caps)).toBeNull()
    expect(armOf({ id: 'ro_x', percent: 100, targeting: { devices: ['dev_a'] } }, 'dev_a', caps)).toBe('candidate')
  })
})

describe('cohort targeting (core/rollout/assign.ts)', () => {
  it('takes only devices whose accepted cohort is listed; no cohort is never targeted by a cohort list', () => {
    const t = { cohorts: ['store-0001', 'store-0002'] }
    expect(isTargeted(t, 'dev_a', { webgpu: false }, 'store-0001')).toBe(true)
    expect(isTargeted(t, 'dev_a', { webgpu: false }, 'store-0003')).toBe(false)
    expect(isTargeted(t, 'dev_a', { webgpu: false }, null)).toBe(false)
    expect(isTargeted(t, 'dev_a', { webgpu: false })).toBe(false)
    // Cohorts combine with the other keys: every key must hold.
    expect(isTargeted({ ...t, webgpu: true }, 'dev_a', { webgpu: false }, 'store-0001')).toBe(false)
    expect(isTargeted({ ...t, webgpu: true }, 'dev_a', { webgpu: true }, 'store-0001')).toBe(true)
    // Without cohort targeting the cohort changes nothing.
    expect(isTargeted({ webgpu: true }, 'dev_a', { webgpu: true }, 'store-0009')).toBe(true)
    expect(isTargeted(undefined, 'dev_a', { webgpu: false }, 'store-0009')).toBe(true)
  })

  it('never changes the bucket: within a targeted cohort a device has the arm it has without cohorts', () => {
    const devices = seededDevices(20_000, 12)
    const id = 'ro_cohorts'
    const targeted = { id, percent: 30, targeting: { cohorts: ['store-0042'] } }
    for (const d of devices) {
      expect(armOf(targeted, d, { webgpu: false }, 'store-0042')).toBe(armOf({ id, percent: 30 }, d, { webgpu: false }))
      expect(armOf(targeted, d, { webgpu: false }, 'store-0043')).toBeNull()
    }
  })

  it('refuses malformed or duplicate cohort labels in rollout/1 targeting, with their pointer', () => {
    const base = { candidate: 2, mode: 'canary', steps: [{ percent: 10, minDevices: 5 }] }
    const bad = (cohorts: unknown) => RolloutConfig.safeParse({ ...base, targeting: { cohorts } })
    expect(bad(['store-0001', 'region:eu.west_1']).success).toBe(true)
    expect(bad(['free text']).error?.issues[0]?.path).toEqual(['targeting', 'cohorts', 0])
    expect(bad(['a'.repeat(65)]).error?.issues[0]?.path).toEqual(['targeting', 'cohorts', 0])
    expect(bad(['a', 'a']).error?.issues[0]?.path).toEqual(['targeting', 'cohorts'])
    expect(bad([]).error?.issues[0]?.path).toEqual(['targeting', 'cohorts'])
  })
})

describe('the rollout state machine (core/rollout/machine.ts)', () => {
  const config = RolloutConfig.parse({
    candidate: 2,
    mode: 'canary',
    steps: [
      { percent: 5, minDevices: 10 },
      { percent: 100, minDevices: 10 },
    ],
  })
  const ab = RolloutConfig.parse({ candidate: 2, mode: 'ab', steps: [{ percent: 50, minDevices: 10 }] })
  const running: RolloutState = { id: 'ro_1', status: 'running', step: 0, stepStartedAt: 1000 }
  const paused: RolloutState = { ...running, status: 'paused' }

  const table: [
    string,
    RolloutState,
    Parameters<typeof nextState>[2],
    Partial<RolloutState> | 'conflict',
    typeof config?,
  ][] = [
    ['pause a running rollout', running, 'pause', { status: 'paused', step: 0, stepStartedAt: 1000 }],
    ['pause a paused one', paused, 'pause', 'conflict'],
    ['resume a paused one (clock restarts)', paused, 'resume', { status: 'running', step: 0, stepStartedAt: 5000 }],
    ['resume a running one', running, 'resume', 'conflict'],
    ['advance a running one', running, 'advance', { status: 'running', step: 1, stepStartedAt: 5000 }],
    ['advance a paused one (stays paused)', paused, 'advance', { status: 'paused', step: 1, stepStartedAt: 5000 }],
    ['advance past the last step', { ...running, step: 1 }, 'advance', 'conflict'],
    ['advance an ab rollout', running, 'advance', 'conflict', ab],
    ['roll back', running, 'rollback', { status: 'rolled_back', step: 0 }],
    ['roll back a paused one', paused, 'rollback', { status: 'rolled_back' }],
    ['promote', running, 'promote', { status: 'promoted', step: 0 }],
    ['act on a rolled-back rollout', { ...running, status: 'rolled_back' }, 'resume', 'conflict'],
    ['act on a promoted rollout', { ...running, status: 'promoted' }, 'rollback', 'conflict'],
  ]
  for (const [name, from, action, expected, cfg] of table) {
    it(name, () => {
      if (expected === 'conflict') {
        let error: unknown
        try {
          nextState(cfg ?? config, from, action, 5000)
        } catch (e) {
          error = e
        }
        expect(error).toBeInstanceOf(EdgefleetError)
        expect((error as EdgefleetError).code).toBe('conflict')
      } else {
        expect(nextState(cfg ?? config, from, action, 5000)).toMatchObject({ id: 'ro_1', ...expected })
      }
    })
  }

  it('counts running and paused rollouts as active, ended ones not', () => {
    expect([running, paused].every(isActive)).toBe(true)
    expect(isActive({ status: 'rolled_back' }) || isActive({ status: 'promoted' })).toBe(false)
  })
})
