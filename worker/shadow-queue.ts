/** Shadow runs waiting at most (beyond: dropped and counted); small, since each holds an input and an output. */
export const SHADOW_QUEUE_CAPACITY = 16

/**
 * Background work that must never hold up the app's requests: shadow runs wait here and start only
 * while no primary request is in flight, one at a time, each from a fresh task (`setTimeout 0`) so
 * that a primary request already posted to the worker is taken first. A primary request that arrives
 * while a shadow run is executing waits for that one run (engines cannot be preempted). The queue is
 * bounded: `offer` refuses work beyond the capacity, and the caller counts it.
 *
 * @example
 * const q = new ShadowQueue((job) => runShadow(job))
 * q.primaryStarted(); const r = await primary(); q.offer(job); q.primaryFinished()
 */
export class ShadowQueue<Job> {
  readonly #jobs: Job[] = []
  #primaries = 0
  #running = false
  #scheduled = false
  #waiters: (() => void)[] = []

  constructor(
    private readonly run: (job: Job) => Promise<void>,
    readonly capacity = SHADOW_QUEUE_CAPACITY,
    private readonly schedule: (task: () => void) => void = (task) => setTimeout(task, 0),
  ) {}

  /** Jobs waiting (not the one running). */
  get size(): number {
    return this.#jobs.length
  }

  /** A primary request started: no shadow run starts until every one has finished. */
  primaryStarted(): void {
    this.#primaries++
  }

  primaryFinished(): void {
    this.#primaries = Math.max(0, this.#primaries - 1)
    this.#kick()
  }

  /** Queues a job; false (and nothing queued) when the queue is full. */
  offer(job: Job): boolean {
    if (this.#jobs.length >= this.capacity) return false
    this.#jobs.push(job)
    this.#kick()
    return true
  }

  /** Drops the waiting jobs that match (e.g. those of a model being unloaded); returns how many. */
  discard(match: (job: Job) => boolean): number {
    let n = 0
    for (let i = this.#jobs.length - 1; i >= 0; i--)
      if (match(this.#jobs[i])) {
        this.#jobs.splice(i, 1)
        n++
      }
    this.#notify()
    return n
  }

  /** Resolves once nothing is waiting or running (while the app keeps the worker busy, that is later). */
  settled(): Promise<void> {
    if (this.#idle()) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  #idle(): boolean {
    return this.#jobs.length === 0 && !this.#running
  }

  #kick(): void {
    if (this.#scheduled || this.#running || this.#primaries > 0 || this.#jobs.length === 0) return
    this.#scheduled = true
    this.schedule(() => {
      this.#scheduled = false
      void this.#step()
    })
  }

  async #step(): Promise<void> {
    if (this.#running || this.#primaries > 0 || this.#jobs.length === 0) return this.#notify()
    this.#running = true
    const job = this.#jobs.shift()!
    try {
      await this.run(job)
    } catch {
      // A failing shadow is the shadow's problem (counted by `run`); the queue goes on.
    } finally {
      this.#running = false
    }
    this.#notify()
    this.#kick()
  }

  #notify(): void {
    if (!this.#idle()) return
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }
}
