import type { SdkDb } from '../db.ts'
import type { ReportTarget } from '../telemetry/report-builder.ts'

/**
 * @module The crash beacon's markers (docs/device-health.md): a page writes a marker to IndexedDB
 * before it loads a model version and clears it once the load ends, well or not. A marker left by a
 * page that is gone names a load the page died in (the tab crashed, ran out of memory, or was closed
 * mid-load); the next page of the origin takes it, once, and reports it as `loadAbandoned`.
 */

/** What a marker holds: the version being loaded, as its report target, and its telemetry sample rate. */
export interface LoadMarker {
  target: ReportTarget
  sampleRate: number
  at: number
}

const PREFIX = 'loading:'
const RANGE = () => IDBKeyRange.bound(PREFIX, `${PREFIX}\uffff`)

interface LocksLike {
  request(name: string, callback: () => Promise<void>): Promise<void>
  query(): Promise<{ held?: { name?: string }[] }>
}

/**
 * The markers of one page. Each page holds a Web Lock named after it while it lives, so a page
 * taking markers leaves those of pages still open (another tab loading right now) alone; the browser
 * releases the lock of a page that dies, crashed or not.
 *
 * @example
 * const markers = new LoadMarkers(db)
 * const clear = await markers.mark(target, 1)
 * try { await load() } finally { await clear() }
 */
export class LoadMarkers {
  private readonly page = crypto.randomUUID()
  private seq = 0
  private readonly locks: LocksLike | undefined
  private holding?: Promise<void>

  constructor(
    private readonly db: SdkDb,
    options: { locks?: LocksLike | null; now?: () => number } = {},
  ) {
    this.locks =
      options.locks === null
        ? undefined
        : (options.locks ?? (globalThis.navigator as { locks?: LocksLike } | undefined)?.locks)
    this.now = options.now ?? Date.now
  }

  private readonly now: () => number

  /** Writes a marker for a load about to start; the returned function clears it (safe to call twice). */
  async mark(target: ReportTarget, sampleRate: number): Promise<() => Promise<void>> {
    this.holdPageLock()
    const key = `${PREFIX}${this.page}:${++this.seq}`
    const marker: LoadMarker = {
      target: { ...target, fallbacks: { ...target.fallbacks } },
      sampleRate,
      at: this.now(),
    }
    await this.db.put('meta', marker, key)
    let cleared: Promise<void> | undefined
    return () => (cleared ??= this.db.delete('meta', key).catch(() => undefined))
  }

  /**
   * Removes and returns the markers of pages that are gone: each once, whichever tab takes it. Without
   * Web Locks only this page's own markers are known to be alive, so any other page's are taken.
   */
  async takeAbandoned(): Promise<LoadMarker[]> {
    this.holdPageLock()
    const alive = new Set<string>([this.page])
    const held = this.locks ? await this.locks.query().catch(() => ({ held: [] })) : { held: [] }
    for (const l of held.held ?? []) if (l.name?.startsWith(LOCK_PREFIX)) alive.add(l.name.slice(LOCK_PREFIX.length))
    const tx = this.db.transaction('meta', 'readwrite')
    const out: LoadMarker[] = []
    for (const key of await tx.store.getAllKeys(RANGE())) {
      const page = String(key).slice(PREFIX.length).split(':')[0]
      if (alive.has(page)) continue
      const marker = (await tx.store.get(key)) as LoadMarker | undefined
      await tx.store.delete(key)
      if (isMarker(marker)) out.push(marker)
    }
    await tx.done
    return out
  }

  /** Holds this page's lock until the page goes (requested once; never released on purpose). */
  private holdPageLock(): void {
    if (this.holding || !this.locks) return
    this.holding = this.locks.request(`${LOCK_PREFIX}${this.page}`, () => new Promise<void>(() => undefined))
    this.holding.catch(() => undefined)
  }
}

const LOCK_PREFIX = 'edgefleet-page:'

/** A stored marker as this SDK writes it; anything else (another SDK's, damaged) is dropped unreported. */
function isMarker(m: unknown): m is LoadMarker {
  const t = (m as Partial<LoadMarker> | undefined)?.target
  return (
    typeof t === 'object' &&
    t !== null &&
    typeof t.model === 'string' &&
    Number.isSafeInteger(t.version) &&
    typeof t.role === 'string' &&
    typeof t.backend === 'string' &&
    typeof (m as LoadMarker).sampleRate === 'number'
  )
}
