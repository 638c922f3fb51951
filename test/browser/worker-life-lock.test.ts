// The page learns that its inference worker is gone when it is granted the worker's life lock
// (client/worker-host.ts). That holds only if the worker's lock request is granted before the page's
// is made: the worker answers its first call (capabilities) only once it holds the lock.
import { describe, expect, it } from 'vitest'
import { startWorker } from '../../client/worker-host.ts'
import { WorkerRuntime } from '../../worker/worker-runtime.ts'

const workerUrl = new URL('/worker/index.ts?worker_file&type=module', location.origin)

async function lifeLocks() {
  const { held = [], pending = [] } = await navigator.locks.query()
  const ours = (l: LockInfo) => l.name?.startsWith('edgefleet:') === true
  return { held: held.filter(ours).map((l) => l.name), pending: pending.filter(ours).map((l) => l.name) }
}

describe("the inference worker's life lock", () => {
  it('is held by the worker once it has answered, with the page queued behind it', async () => {
    const before = await lifeLocks()
    let gone = 0
    const host = await startWorker(workerUrl, () => gone++)
    const after = await lifeLocks()
    const name = after.held.find((n) => !before.held.includes(n))
    expect(name).toMatch(/^edgefleet:[0-9a-f-]{36}$/)
    expect(after.pending).toContain(name)
    // The worker answers calls: it is not taken for gone.
    expect(await host.api.capabilities()).toHaveProperty('cores')
    expect(gone).toBe(0)
    host.terminate()
  })

  it("capabilities waits for the runtime's ready promise", async () => {
    let grant!: () => void
    const runtime = new WorkerRuntime(Date.now, new Promise<void>((r) => (grant = r)))
    let answered = false
    const answer = runtime.capabilities().then((c) => ((answered = true), c))
    await new Promise((r) => setTimeout(r, 100))
    expect(answered).toBe(false)
    grant()
    expect(await answer).toHaveProperty('cores', navigator.hardwareConcurrency)
  })
})
