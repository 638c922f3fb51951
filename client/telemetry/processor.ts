import type { Batch, Report } from '../../core/formats/telemetry.ts'
import { TELEMETRY_VERSION, WINDOW_MS } from '../../core/formats/telemetry-window.ts'
import type { StatsDelta } from '../../worker/protocol.ts'
import type { HealthKind } from '../../core/health-kinds.ts'
import { cryptoRandom, hasHistogramValues, privatizeReport, withoutHistograms } from './dp.ts'
import type { QueuedBatch, TelemetryQueue } from './queue.ts'
import { ReportBuilder, type ReportTarget } from './report-builder.ts'
import type { Transport } from './transport.ts'

/** Reports per batch: well under the schema's 256, so a batch stays far below the edge's 64 KB. */
export const MAX_REPORTS_PER_BATCH = 32
/** Batches sent per flush before yielding (OpenTelemetry exports in bounded batches too). */
const SEND_PER_FLUSH = 16

/** The subset of the Web Locks API used to elect the one tab that sends. */
export interface LockManagerLike {
  request(name: string, options: { ifAvailable: true }, callback: (lock: unknown) => Promise<void>): Promise<void>
}

export interface TelemetryProcessorOptions {
  queue: TelemetryQueue
  transport: Transport
  /** Asks the worker for a model's delta since the previous call. */
  collect: (key: string) => Promise<StatsDelta>
  device: () => Promise<Batch['device']>
  now?: () => number
  random?: () => number
  /** Web Locks (default `navigator.locks` when present; null: this tab always sends). */
  locks?: LockManagerLike | null
  /** Where `online`/`pagehide` fire (default `globalThis` when it has `addEventListener`). */
  window?: EventTarget | null
  /** Where `visibilitychange` fires, with its `visibilityState` (default `document`). */
  document?: (EventTarget & { visibilityState: string }) | null
  /** Use timers (default true); tests drive `collect`/`flush` by hand. */
  timers?: boolean
  /** Fresh batch ids (default: 16 random bytes, base64url). */
  batchId?: () => string
  /** Local differential privacy on histograms (dp.ts); off when absent. */
  dp?: {
    epsilon: number
    clip: number
    /** The per-day ε ledger: true when `epsilon` could be spent at `now`. */
    budget: { spend(epsilon: number, now: number): Promise<boolean> }
    /** The noise source (default `cryptoRandom`). */
    random?: () => number
  }
}

/** Telemetry settings of one tracked model, from its assignment. */
export interface TrackSettings {
  sampleRate: number
  flushSeconds: number
}

const LOCK_NAME = 'edgefleet-telemetry'

/**
 * The SDK's telemetry processor, after OpenTelemetry's BatchSpanProcessor: the worker is asked for
 * each tracked model's delta at every UTC minute, the reports wait on the main thread, and each
 * flush freezes them into batches in the shared IndexedDB queue and sends what the transport
 * allows. One tab sends (a Web Lock elects it). On `visibilitychange: hidden` or `pagehide` the last
 * collected snapshot is sent by beacon without a worker round trip. `flush()` and `close()` are safe
 * to call twice.
 *
 * @example
 * const t = new TelemetryProcessor({ queue, transport, collect: (k) => api.collect(k), device })
 * t.track(key, target, assignment.telemetry)
 * await t.flush()
 */
export class TelemetryProcessor {
  private readonly builder = new ReportBuilder()
  /** With DP: reports of closed windows, already noised (or stripped) and paid for, waiting to be frozen. */
  private sealed: Report[] = []
  private readonly sampleRates = new Map<string, number>()
  private readonly flushSeconds = new Map<string, number>()
  private readonly now: () => number
  private readonly random: () => number
  private readonly locks: LockManagerLike | null
  private readonly win: EventTarget | null
  private readonly doc: (EventTarget & { visibilityState: string }) | null
  private readonly newBatchId: () => string
  private device?: Batch['device']
  /** The queue head as last read, so a hidden page can beacon it without touching IndexedDB. */
  private queued: QueuedBatch[] = []
  private collectTimer?: ReturnType<typeof setTimeout>
  private flushTimer?: ReturnType<typeof setInterval>
  private flushEvery = 0
  private flushing?: Promise<void>
  private closing?: Promise<void>
  /** The hold last written to the queue by this tab, so an unchanged hold costs no write. */
  private recordedHold?: number
  private readonly onOnline = () => {
    this.options.transport.online()
    void this.send().catch(() => undefined)
  }
  private readonly onHide = () => this.sendOnHide()
  private readonly onVisibility = () => {
    if (this.doc?.visibilityState === 'hidden') this.sendOnHide()
  }

  constructor(private readonly options: TelemetryProcessorOptions) {
    this.now = options.now ?? Date.now
    this.random = options.random ?? Math.random
    const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator
    this.locks = options.locks !== undefined ? options.locks : (nav?.locks ?? null)
    const g = globalThis as unknown as EventTarget & { document?: EventTarget & { visibilityState: string } }
    this.win = options.window !== undefined ? options.window : typeof g.addEventListener === 'function' ? g : null
    this.doc = options.document !== undefined ? options.document : (g.document ?? null)
    this.newBatchId = options.batchId ?? randomBatchId
    this.win?.addEventListener('online', this.onOnline)
    this.win?.addEventListener('pagehide', this.onHide)
    this.doc?.addEventListener('visibilitychange', this.onVisibility)
    if (options.timers ?? true) this.scheduleCollect()
    void options.device().then(
      (d) => (this.device = d),
      () => undefined,
    )
  }

  /**
   * Starts reporting a loaded model, unless sampling leaves it out: the device reports it with
   * probability `sampleRate`, and its batches carry that rate so the edge can scale.
   */
  track(key: string, target: ReportTarget, settings: TrackSettings, sampled?: boolean): boolean {
    // A shadow follows its primary's draw (`sampled`), so the same devices report both sides.
    if (this.closing || !(sampled ?? this.random() < settings.sampleRate)) return false
    this.builder.track(key, target)
    this.sampleRates.set(key, settings.sampleRate)
    this.sampleRates.set(targetId(target), settings.sampleRate)
    this.flushSeconds.set(key, settings.flushSeconds)
    this.rescheduleFlush()
    return true
  }

  /** Records a load (its time, and whether every file came from the cache) for a tracked key. */
  noteLoad(key: string, load: { ms: number; cacheHit: boolean }): void {
    this.builder.noteLoad(key, load)
  }

  /**
   * Reports a tracked key under a new target from now on (e.g. the device entered a rollout while its
   * version stayed): what the worker counted so far is collected under the old one first.
   */
  async retarget(key: string, target: ReportTarget): Promise<void> {
    if (!this.builder.keys().includes(key)) return
    await this.collectOne(key)
    this.builder.track(key, target)
    this.sampleRates.set(targetId(target), this.sampleRates.get(key) ?? 1)
  }

  /** Records a load that failed (a shadow's), unless sampling leaves the device out (`sampled` as in `track`). */
  noteFailedLoad(target: ReportTarget, settings: TrackSettings, ms: number, sampled?: boolean): void {
    if (this.closing || !(sampled ?? this.random() < settings.sampleRate)) return
    this.sampleRates.set(targetId(target), settings.sampleRate)
    this.builder.addFailedLoad(target, this.now(), ms)
  }

  /**
   * Counts a device health event of `target` (docs/device-health.md). A target being reported (see
   * `targetOf`) counts it as is; for any other pass its `settings`, and the device reports it unless
   * sampling leaves it out (`sampled` as in `track`). `failedLoad` also counts the load that failed,
   * with its time, as `noteFailedLoad` does.
   */
  noteHealth(
    target: ReportTarget,
    kind: HealthKind,
    options: { settings?: TrackSettings; sampled?: boolean; failedLoadMs?: number } = {},
  ): void {
    if (this.closing) return
    const { settings, sampled, failedLoadMs } = options
    if (settings) {
      if (!(sampled ?? this.random() < settings.sampleRate)) return
      this.sampleRates.set(targetId(target), settings.sampleRate)
    }
    const at = this.now()
    if (failedLoadMs !== undefined) this.builder.addFailedLoad(target, at, failedLoadMs)
    this.builder.addHealth(target, kind, at)
  }

  /** The report target of a tracked key (undefined: not reported, e.g. sampled out). */
  targetOf(key: string): ReportTarget | undefined {
    return this.builder.targetOf(key)
  }

  /** Counts feedback on a prediction made at `at` into the report of its target and minute. */
  noteFeedback(target: ReportTarget, at: number, correct: boolean): void {
    this.builder.addFeedback(target, at, correct)
  }

  /** Takes a key's last delta and stops tracking it (call before the worker unloads it). */
  async retire(key: string): Promise<void> {
    if (!this.builder.keys().includes(key)) return
    await this.collectOne(key)
    this.builder.untrack(key)
    this.flushSeconds.delete(key)
    this.rescheduleFlush()
  }

  /**
   * Asks the worker for every tracked model's delta; the snapshot stays on the main thread. With DP,
   * the reports of windows that have closed are sealed now (noised and paid for), so that a page
   * going away can send them without waiting for IndexedDB.
   */
  async collect(): Promise<void> {
    await Promise.all(this.builder.keys().map((k) => this.collectOne(k)))
    if (this.options.dp) await this.seal(this.now())
  }

  /**
   * A window closed (the minute timer): the worker's deltas are collected and what is waiting is
   * frozen into the IndexedDB queue at once, without sending, so a tab killed without `pagehide`
   * loses nothing older than the open window however long `flushSeconds` is; the queue head is read
   * again so a later `pagehide` beacons it.
   */
  async closeWindow(): Promise<void> {
    await this.collect()
    await this.freeze()
    this.queued = await this.options.queue.peek(SEND_PER_FLUSH).catch(() => this.queued)
  }

  /**
   * Collects, freezes what is waiting into queued batches and sends what the transport allows. While
   * the transport holds sends back (a 429/503 Retry-After or a network backoff), what was collected
   * stays on the main thread, merged per target and minute, and only the minute timer freezes it
   * (`closeWindow`): a batch frozen at every flush of a page flushing each second would fill the
   * bounded queue within one Retry-After of 60 s and push its oldest batches out as `queue_overflow`.
   * The hold is the transport's, or the one the sending tab recorded in the shared queue.
   */
  flush(): Promise<void> {
    // A flush already running is joined, not doubled: its batches are the same ones.
    this.flushing ??= (async () => {
      try {
        await this.collect()
        if (this.closing || this.now() >= (await this.holdUntil())) await this.freeze()
        await this.send()
      } finally {
        this.flushing = undefined
      }
    })()
    return this.flushing
  }

  /** Stops timers and listeners after a last flush. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.collectTimer)
      clearInterval(this.flushTimer)
      this.win?.removeEventListener('online', this.onOnline)
      this.win?.removeEventListener('pagehide', this.onHide)
      this.doc?.removeEventListener('visibilitychange', this.onVisibility)
      await this.flush().catch(() => undefined)
    })()
    return this.closing
  }

  /**
   * Turns the waiting reports into frozen batches in the queue. With DP only windows that have closed
   * go (all of them on close): a window sent in two parts would pay ε twice.
   */
  async freeze(): Promise<void> {
    let reports: Report[]
    if (this.options.dp) {
      await this.seal(this.closing ? undefined : this.now())
      reports = this.sealed
      this.sealed = []
    } else reports = this.builder.drain()
    const batches = this.batchesOf(reports)
    if (batches.length === 0) return
    const device = this.device ?? (this.device = await this.options.device())
    for (const b of batches)
      await this.options.queue.enqueue((dropped) => this.makeBatch(device, b.sampleRate, b.reports, dropped))
  }

  /** Sends queued batches in order until the queue is empty or the transport says wait; one tab at a time. */
  async send(): Promise<void> {
    const run = async () => {
      const { queue, transport } = this.options
      for (let sent = 0; sent < SEND_PER_FLUSH;) {
        this.queued = await queue.peek(SEND_PER_FLUSH)
        if (this.queued.length === 0 || this.now() < transport.retryAt) return
        for (const b of this.queued) {
          const outcome = await transport.send(b.body)
          sent++
          if (outcome.kind === 'sent') await queue.remove(b.seq!)
          else if (outcome.kind === 'drop') await queue.drop(b.seq!, outcome.reason)
          else return
        }
      }
    }
    const sendAndRecordHold = async () => {
      try {
        await run()
      } finally {
        await this.recordHold()
      }
    }
    if (this.locks)
      await this.locks.request(LOCK_NAME, { ifAvailable: true }, async (lock) =>
        lock ? sendAndRecordHold() : undefined,
      )
    else await sendAndRecordHold()
    this.queued = await this.options.queue.peek(SEND_PER_FLUSH).catch(() => this.queued)
  }

  /**
   * The page is going away: beacon the last collected snapshot and the queue head as last read,
   * within the shared keepalive budget. Synchronous up to the beacons; what did not fit goes to the
   * queue for the next page, and what was handed to the browser leaves it (best effort: were the page
   * frozen first, the next page resends the same bytes and the edge dedupes on the batch id).
   */
  sendOnHide(): void {
    const device = this.device
    if (!device) return
    // With DP, a window still open cannot be paid for without IndexedDB: it goes without histograms.
    const open = this.builder.drain()
    const reports = this.options.dp ? [...this.sealed, ...open.map(withoutHistograms)] : open
    this.sealed = []
    const fresh = this.batchesOf(reports).map((b) => this.makeBatch(device, b.sampleRate, b.reports, {}))
    const freshBodies = fresh.map((b) => JSON.stringify(b))
    const old = this.queued
    this.queued = []
    const handed = this.options.transport.flushOnHide([...freshBodies, ...old.map((b) => b.body)])
    const { queue } = this.options
    // Remaining fresh batches keep the body already serialized, so they go out later byte for byte.
    void (async () => {
      for (let i = handed; i < fresh.length; i++) await queue.enqueue(() => fresh[i])
      for (const b of old.slice(0, Math.max(0, handed - fresh.length))) await queue.remove(b.seq!)
    })().catch(() => undefined)
  }

  /** When sends are held back until: the later of this tab's transport and the queue's shared hold. */
  private async holdUntil(): Promise<number> {
    const shared = await this.options.queue.heldUntil().catch(() => 0)
    return Math.max(this.options.transport.retryAt, shared)
  }

  /** Shares the transport's hold with the other tabs through the queue (the sending tab only). */
  private async recordHold(): Promise<void> {
    const at = this.options.transport.retryAt
    if (at === this.recordedHold) return
    await this.options.queue.holdUntil(at).catch(() => undefined)
    this.recordedHold = at
  }

  /** Noises and pays for the waiting reports of windows ending by `until` (all when undefined). */
  private async seal(until: number | undefined): Promise<void> {
    const dp = this.options.dp!
    for (const r of this.builder.drain(until)) {
      let sealed = withoutHistograms(r)
      if (hasHistogramValues(r) && (await dp.budget.spend(dp.epsilon, this.now()).catch(() => false)))
        sealed = privatizeReport(r, dp, dp.random ?? cryptoRandom)
      this.sealed.push(sealed)
    }
  }

  private async collectOne(key: string): Promise<void> {
    let delta: StatsDelta
    try {
      delta = await this.options.collect(key)
    } catch {
      // A model unloaded meanwhile has nothing more to say.
      return
    }
    this.builder.add(delta)
    const dropped = delta.shadow?.dropped
    if (typeof dropped === 'number' && Number.isSafeInteger(dropped) && dropped > 0)
      await this.options.queue.countDrop('shadow_overflow', dropped).catch(() => undefined)
  }

  private batchesOf(reports: Report[]): { sampleRate: number; reports: Report[] }[] {
    const byRate = new Map<number, Report[]>()
    for (const r of reports) {
      const rate = this.sampleRates.get(targetId(r)) ?? 1
      byRate.set(rate, [...(byRate.get(rate) ?? []), r])
    }
    const out: { sampleRate: number; reports: Report[] }[] = []
    for (const [sampleRate, rs] of byRate)
      for (let i = 0; i < rs.length; i += MAX_REPORTS_PER_BATCH)
        out.push({ sampleRate, reports: rs.slice(i, i + MAX_REPORTS_PER_BATCH) })
    return out
  }

  private makeBatch(
    device: Batch['device'],
    sampleRate: number,
    reports: Report[],
    dropped: Record<string, number>,
  ): Batch {
    const dp = this.options.dp ? { dp: { epsilon: this.options.dp.epsilon } } : {}
    return {
      v: TELEMETRY_VERSION,
      batchId: this.newBatchId(),
      sentAt: this.now(),
      device,
      sampleRate,
      dropped,
      ...dp,
      reports,
    }
  }

  /** Collects at every UTC minute, so no delta straddles two windows. */
  private scheduleCollect(): void {
    const delay = WINDOW_MS - (this.now() % WINDOW_MS) + 50
    this.collectTimer = setTimeout(() => {
      void this.closeWindow()
        .catch(() => undefined)
        .finally(() => {
          if (!this.closing) this.scheduleCollect()
        })
    }, delay)
  }

  private rescheduleFlush(): void {
    if (!(this.options.timers ?? true)) return
    const every = Math.min(...this.flushSeconds.values()) * 1000
    if (every === this.flushEvery) return
    clearInterval(this.flushTimer)
    this.flushEvery = every
    if (Number.isFinite(every)) this.flushTimer = setInterval(() => void this.flush().catch(() => undefined), every)
  }
}

const targetId = (t: { model: string; version: number; role: string; rollout?: { id: string; arm: string } }) =>
  `${t.model}@${t.version}#${t.role}/${t.rollout?.id ?? ''}:${t.rollout?.arm ?? ''}`

function randomBatchId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return (
    'b_' +
    btoa(String.fromCharCode(...bytes))
      .replaceAll('+', '-')
      .replaceAll('/', '_')
      .replace(/=+$/, '')
  )
}
