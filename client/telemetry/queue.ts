import type { Batch } from '../../core/formats/telemetry.ts'
import type { QueuedBatch, SdkDb } from '../db.ts'

export type { QueuedBatch } from '../db.ts'

/**
 * Why telemetry was dropped on the device; carried to the edge in the next batch's `dropped`. Counted
 * in reports, except `shadow_overflow`: shadow runs skipped because the worker's shadow queue was full.
 */
export type DropReason = 'queue_overflow' | 'too_old' | 'rejected' | 'shadow_overflow'

/** Most batches kept (OpenTelemetry's BatchSpanProcessor bounds its queue the same way). */
export const DEFAULT_MAX_BATCHES = 64

const DROPS_KEY = 'telemetryDropped'
const HOLD_KEY = 'telemetryHoldUntil'

/**
 * The persistent, bounded queue of frozen batches in IndexedDB, shared by every tab of the origin.
 * Drops are counted by reason in reports and persisted beside the queue; each new batch takes the
 * pending counts into its `dropped` in the same transaction that stores it.
 *
 * @example
 * const q = new TelemetryQueue(cache.database)
 * await q.enqueue((dropped) => ({ ...batch, dropped }))
 * for (const b of await q.peek(8)) await send(b.body)
 */
export class TelemetryQueue {
  readonly maxBatches: number

  constructor(
    private readonly db: SdkDb,
    options: { maxBatches?: number; now?: () => number } = {},
  ) {
    this.maxBatches = Math.max(1, options.maxBatches ?? DEFAULT_MAX_BATCHES)
    this.now = options.now ?? Date.now
  }

  private readonly now: () => number

  /**
   * Freezes a batch built by `make` (given the pending drop counts, which it must carry) and stores
   * it; the oldest batches beyond the bound are dropped as `queue_overflow`. Returns the stored batch.
   */
  async enqueue(make: (dropped: Record<string, number>) => Batch): Promise<QueuedBatch> {
    const tx = this.db.transaction(['telemetry', 'meta'], 'readwrite')
    const meta = tx.objectStore('meta')
    const store = tx.objectStore('telemetry')
    const pending = ((await meta.get(DROPS_KEY)) as Record<string, number> | undefined) ?? {}
    const batch = make({ ...pending })
    const entry: QueuedBatch = {
      batchId: batch.batchId,
      body: JSON.stringify(batch),
      reports: batch.reports.length,
      dropped: { ...batch.dropped },
      createdAt: this.now(),
    }
    entry.seq = await store.add(entry)
    // Counts the batch did not take stay pending (a batch frozen on pagehide carries none).
    const carried: Record<string, number> = {}
    for (const [reason, n] of Object.entries(pending))
      if (n - (batch.dropped[reason] ?? 0) > 0) carried[reason] = n - (batch.dropped[reason] ?? 0)
    let excess = (await store.count()) - this.maxBatches
    let cursor = excess > 0 ? await store.openCursor() : null
    while (cursor && excess > 0) {
      const victim = cursor.value
      addDrops(carried, victim.dropped)
      addDrops(carried, { queue_overflow: victim.reports })
      await cursor.delete()
      excess--
      cursor = await cursor.continue()
    }
    await meta.put(carried, DROPS_KEY)
    await tx.done
    return entry
  }

  /** The oldest `limit` batches, in order. */
  async peek(limit = this.maxBatches): Promise<QueuedBatch[]> {
    return this.db.getAll('telemetry', undefined, limit)
  }

  /** Batches waiting. */
  size(): Promise<number> {
    return this.db.count('telemetry')
  }

  /** Removes a batch the edge accepted. Removing one already gone does nothing. */
  async remove(seq: number): Promise<void> {
    await this.db.delete('telemetry', seq)
  }

  /** Removes a batch the edge refused for good, counting its reports (and re-counting what it carried). */
  async drop(seq: number, reason: DropReason): Promise<void> {
    const tx = this.db.transaction(['telemetry', 'meta'], 'readwrite')
    const victim = await tx.objectStore('telemetry').get(seq)
    if (victim) {
      await tx.objectStore('telemetry').delete(seq)
      const pending = ((await tx.objectStore('meta').get(DROPS_KEY)) as Record<string, number> | undefined) ?? {}
      addDrops(pending, victim.dropped)
      addDrops(pending, { [reason]: victim.reports })
      await tx.objectStore('meta').put(pending, DROPS_KEY)
    }
    await tx.done
  }

  /** Counts reports dropped before reaching the queue. */
  async countDrop(reason: DropReason, reports: number): Promise<void> {
    const tx = this.db.transaction('meta', 'readwrite')
    const pending = ((await tx.store.get(DROPS_KEY)) as Record<string, number> | undefined) ?? {}
    addDrops(pending, { [reason]: reports })
    await tx.store.put(pending, DROPS_KEY)
    await tx.done
  }

  /**
   * Until when the edge holds sends back (a 429/503 Retry-After or a network backoff), as the tab
   * that sends last recorded it; 0 when nothing holds. Every tab reads it, so a tab that never sends
   * does not freeze a batch at every flush during a hold either.
   */
  async heldUntil(): Promise<number> {
    const at = await this.db.get('meta', HOLD_KEY)
    return typeof at === 'number' && Number.isFinite(at) ? at : 0
  }

  /** Records the sending tab's hold (0: none). */
  async holdUntil(at: number): Promise<void> {
    await this.db.put('meta', at, HOLD_KEY)
  }

  /** Drop counts not yet carried by a batch. */
  async pendingDrops(): Promise<Record<string, number>> {
    return ((await this.db.get('meta', DROPS_KEY)) as Record<string, number> | undefined) ?? {}
  }
}

function addDrops(into: Record<string, number>, from: Record<string, number>): void {
  for (const [reason, n] of Object.entries(from)) if (n > 0) into[reason] = (into[reason] ?? 0) + n
}
