// The mlp family on a worker thread (trainer/mlp-thread.ts), as `edgefleet retrain --family mlp`
// runs it: the same bytes as training on this thread, every epoch reported in order before the
// result, this thread free while the epochs run, and a failure in the thread a rejection.
import { describe, expect, it } from 'vitest'
import { seededNormal, seededRandom } from '../../scripts/lib/random.ts'
import { trainTabularMlpInThread } from '../../trainer/mlp-thread.ts'
import { trainTabularMlp } from '../../trainer/tabular-mlp.ts'
import { tabularSignatureFor } from '../../trainer/tabular-signature.ts'

const normal = seededNormal(seededRandom(7))
const train = Array.from({ length: 300 }, () => {
  const a = normal() * 2
  const b = normal() * 2
  return { a, b, y: a * b > 0 ? 'same' : 'opposite' }
})
const signature = tabularSignatureFor(train, { label: 'y' })

describe('mlp training on a worker thread', () => {
  it('gives the bytes of training here, with every epoch in order before the result', async () => {
    const seen: [number, number, number][] = []
    const here: number[] = []
    const expected = trainTabularMlp(train, signature, 'y', {
      seed: 3,
      epochs: 60,
      onEpoch: (_e, _n, l) => here.push(l),
    })
    // This thread keeps running while the other trains: a timer fires between the epochs' messages.
    let ticks = 0
    const timer = setInterval(() => ticks++, 1)
    const trained = await trainTabularMlpInThread(
      { train, signature, label: 'y', options: { seed: 3, epochs: 60 } },
      (e, n, loss) => seen.push([e, n, loss]),
    )
    clearInterval(timer)
    expect(trained.onnx).toEqual(expected.onnx)
    expect(trained.hyper).toEqual(expected.hyper)
    expect(seen.map(([e]) => e)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
    expect(seen.every(([, n]) => n === 60)).toBe(true)
    expect(seen.map(([, , loss]) => loss)).toEqual(here)
    expect(ticks).toBeGreaterThan(0)
  }, 60_000)

  it('rejects when training fails in the thread', async () => {
    const broken = { ...signature, features: [{ name: 'a', type: 'nonsense' }] } as unknown as typeof signature
    await expect(
      trainTabularMlpInThread({ train, signature: broken, label: 'y', options: { seed: 1, epochs: 5 } }),
    ).rejects.toThrow(/mlp training failed/)
  }, 60_000)
})
