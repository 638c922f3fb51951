import { describe, expect, it } from 'vitest'
import type { ModelOutput, TensorData } from '../../../worker/protocol.ts'
import { compareOutputs, keepOutput, ShadowStats } from '../../../worker/shadow-compare.ts'
import { ShadowQueue } from '../../../worker/shadow-queue.ts'

const f32 = (dims: number[], values: number[]): TensorData => ({
  dtype: 'float32',
  dims,
  data: Float32Array.from(values),
})
const tensors = (t: Record<string, TensorData>): ModelOutput => ({ kind: 'tensors', tensors: t })
const opts = { tolerance: 0.01, labels: {} as Record<string, readonly string[]> }

describe('comparing a shadow output with the primary answer', () => {
  it('classes agree on the label; the difference is the mean |Δscore| over the union of labels', () => {
    const p: ModelOutput = { kind: 'classes', label: 'sun', scores: { sun: 0.6, rain: 0.3, fog: 0.1 } }
    const s: ModelOutput = { kind: 'classes', label: 'sun', scores: { sun: 0.5, rain: 0.4, snow: 0.1 } }
    const c = compareOutputs(p, s, opts)
    expect(c.agreed).toBe(true)
    expect(c.absDiff).toBeCloseTo((0.1 + 0.1 + 0.1 + 0.1) / 4, 12)
    expect(compareOutputs(p, { ...s, label: 'rain' }, opts).agreed).toBe(false)
  })

  it('regression agrees within tolerance · max(1, |primary|): absolute below 1, relative above', () => {
    const r = (value: number): ModelOutput => ({ kind: 'regression', value })
    expect(compareOutputs(r(0.5), r(0.509), opts)).toEqual({ agreed: true, absDiff: expect.closeTo(0.009, 12) })
    expect(compareOutputs(r(0.5), r(0.52), opts).agreed).toBe(false)
    expect(compareOutputs(r(200), r(201.9), opts).agreed).toBe(true)
    expect(compareOutputs(r(200), r(202.1), opts).agreed).toBe(false)
    expect(compareOutputs(r(1), r(Number.NaN), opts)).toEqual({ agreed: false, absDiff: null })
  })

  it('tensors: argmax of a labeled output, else every element within tolerance; the difference over all elements', () => {
    const p = tensors({ probs: f32([1, 3], [0.2, 0.5, 0.3]), state: f32([2], [1, 1]) })
    const s = tensors({ probs: f32([1, 3], [0.1, 0.45, 0.45]), state: f32([2], [1, 1]) })
    const labeled = { tolerance: 0.01, labels: { probs: ['a', 'b', 'c'] } }
    const c = compareOutputs(p, s, labeled)
    expect(c.agreed).toBe(true) // both pick 'b', though the scores differ by more than the tolerance
    expect(c.absDiff).toBeCloseTo((0.1 + 0.05 + 0.15 + 0 + 0) / 5, 6)
    expect(compareOutputs(p, s, opts).agreed).toBe(false)
    expect(
      compareOutputs(p, tensors({ probs: f32([1, 3], [0.205, 0.5, 0.3]), state: f32([2], [1, 1]) }), opts).agreed,
    ).toBe(true)
    const flipped = tensors({ probs: f32([1, 3], [0.6, 0.1, 0.3]), state: f32([2], [1, 1]) })
    expect(compareOutputs(p, flipped, labeled).agreed).toBe(false)
  })

  it('outputs that cannot be compared count as disagreeing and add nothing to the difference', () => {
    const stats = new ShadowStats()
    const cls: ModelOutput = { kind: 'classes', label: 'a', scores: { a: 1 } }
    stats.add(compareOutputs(cls, { kind: 'regression', value: 1 }, opts))
    stats.add(compareOutputs(tensors({ y: f32([2], [1, 2]) }), tensors({ y: f32([3], [1, 2, 3]) }), opts))
    stats.add(compareOutputs(cls, cls, opts))
    stats.dropped += 2
    expect(stats.take()).toEqual({ compared: 3, agreed: 1, absDiffSum: 0, dropped: 2 })
    expect(stats.take()).toEqual({ compared: 0, agreed: 0, absDiffSum: 0, dropped: 0 })
  })

  it('keeps a copy of tensor outputs that survives the transfer of the original buffers', () => {
    const out = tensors({ y: f32([2], [1, 2]) })
    const kept = keepOutput(out)
    structuredClone(out, {
      transfer: [(out as { tensors: Record<string, TensorData> }).tensors.y.data.buffer as ArrayBuffer],
    })
    expect(Array.from((kept as { tensors: Record<string, TensorData> }).tensors.y.data as Float32Array)).toEqual([1, 2])
  })
})

/** A queue driven by hand: scheduled tasks run only when `tick` says so. */
function manualQueue(capacity = 3) {
  const tasks: (() => void)[] = []
  const ran: string[] = []
  const release = new Map<string, () => void>()
  const q = new ShadowQueue<string>(
    (job) => {
      ran.push(job)
      if (job.startsWith('fail')) return Promise.reject(new Error(job))
      return new Promise<void>((r) => release.set(job, r))
    },
    capacity,
    (task) => tasks.push(task),
  )
  const tick = async () => {
    while (tasks.length) tasks.shift()!()
    await new Promise((r) => setTimeout(r, 0))
  }
  const finish = async (job: string) => {
    release.get(job)!()
    await new Promise((r) => setTimeout(r, 0))
    await tick()
  }
  return { q, ran, tick, finish }
}

describe('the shadow queue', () => {
  it('starts shadow work only when no primary request is in flight, one run at a time, in order', async () => {
    const { q, ran, tick, finish } = manualQueue()
    q.primaryStarted()
    expect(q.offer('a')).toBe(true)
    expect(q.offer('b')).toBe(true)
    await tick()
    expect(ran).toEqual([])
    q.primaryFinished()
    await tick()
    expect(ran).toEqual(['a'])
    // A primary request arriving while 'a' runs keeps 'b' waiting until it is done.
    q.primaryStarted()
    await finish('a')
    expect(ran).toEqual(['a'])
    q.primaryFinished()
    await tick()
    expect(ran).toEqual(['a', 'b'])
  })

  it('is bounded: work beyond the capacity is refused for the caller to count', async () => {
    const { q } = manualQueue(2)
    q.primaryStarted()
    expect([q.offer('a'), q.offer('b'), q.offer('c')]).toEqual([true, true, false])
    expect(q.size).toBe(2)
    expect(q.discard((j) => j === 'a')).toBe(1)
    expect(q.offer('c')).toBe(true)
  })

  it('settles once everything ran, past failures', async () => {
    const { q, ran, tick, finish } = manualQueue()
    let settled = false
    await q.settled()
    q.offer('fail-1')
    q.offer('x')
    void q.settled().then(() => (settled = true))
    await tick()
    await tick()
    expect(ran).toEqual(['fail-1', 'x'])
    expect(settled).toBe(false)
    await finish('x')
    expect(settled).toBe(true)
  })
})
