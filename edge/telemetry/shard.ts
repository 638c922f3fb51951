import { DurableObject } from 'cloudflare:workers'
import { Schedule } from '../do/schedule.ts'
import { applyRetention, compactRaw, hasStoredData, rollupMinutes } from './compaction.ts'
import { telemetryConfig, type TelemetryConfig } from './config.ts'
import {
  readDeviceDrops,
  readDeviceStats,
  readShard,
  type DeviceStatsRow,
  type ShardQuery,
  type ShardRead,
} from './shard-read.ts'
import type { RefusalRow } from './refusals.ts'
import { cohortWeights, readExcess, type CohortCap, type CohortExcess } from './shard-caps.ts'
import { cohortId, ensureShardSchema, HOUR, MINUTE } from './shard-store.ts'
import { readSliceCells, type ShardCohortSlices } from './slice-cells.ts'
import type { SliceDimension } from '../../core/formats/slices.ts'

/** One model's reports from one device batch, as the Worker hands it to a shard. */
export interface ShardPart {
  batchId: string
  /** `deviceKey(device.id)`: shards never see the device id itself. */
  deviceKey: number
  /** The reports, as a JSON array (stored as is). */
  reports: string
  count: number
  /** The batch's `sampleRate` in (0, 1]: each of its reports stands for 1/sampleRate (fleet estimates). */
  sampleRate: number
  /** The earliest `window.start`: the batch id is remembered until a retry would be `too_old` anyway. */
  firstWindowStart: number
  /**
   * Reports the device dropped before sending, per reason (the batch's `dropped`), on the part of the
   * batch's first model by name only, so that a batch split over several models counts them once.
   */
  dropped?: Record<string, number>
  /** The device's slice values as JSON (core/telemetry/slices.ts); absent from a Worker of an earlier deploy. */
  slices?: string
}

/** What a shard did with a part: reports newly stored, or a duplicate of a part already stored. */
export interface IngestResult {
  accepted: number
  duplicate: boolean
}

/** Aggregation runs this long after the first unaggregated write (the measured group-commit design). */
export const COMPACT_DELAY_MS = 1_000
/** Dedupe ids outlive the accepting horizon by this much (clock skew between Worker and shard). */
const DEDUPE_MARGIN_MS = 10 * 60_000
/** A failing background job is retried after this long, without blocking the others. */
const JOB_RETRY_MS = 60_000

/**
 * `TelemetryShard` `<model>:<n>`: the durable home of the reports of the devices that hash to shard n.
 *
 * Ingest is a group commit: parts arriving while the previous group commits share the next SQLite
 * transaction (one commit), which inserts each batch id (dedupe) and, if new, the raw part. Callers
 * are answered only once that commit is durable, so a 202 means durable. Aggregation is asynchronous: an
 * alarm 1 s later folds raw rows into minute cells and deletes them in one transaction, so a crash
 * at any point neither loses nor double-counts a report; reads merge cells and raw rows alike.
 * Hourly jobs roll old minutes up to hours and apply retention. See docs/telemetry.md.
 */
export class TelemetryShard extends DurableObject<Env> {
  /** The clock of every job and read; tests replace it (`runInDurableObject`) to drive rollups and retention. */
  now: () => number = () => Date.now()
  /** Runs inside the compaction transaction just before it commits; tests throw from it to simulate a crash. */
  beforeCompactionCommit: (() => void) | undefined = undefined
  private readonly sql: SqlStorage
  private readonly schedule: Schedule
  private readonly cfg: TelemetryConfig
  private pending: { part: ShardPart; resolve: (r: IngestResult) => void; reject: (e: unknown) => void }[] = []
  private compactionDue: boolean
  private flushing = false
  private armNeeded = false
  /** Group commits and the parts they carried since this instance started (the mean group size). */
  private readonly commits = { groups: 0, parts: 0 }

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    ensureShardSchema(this.sql)
    this.schedule = new Schedule(this.sql, ctx.storage)
    this.cfg = telemetryConfig(env)
    this.compactionDue = this.schedule.dueAt('compact') !== null
  }

  /** Stores a part durably (deduplicated on its batch id) and resolves once it is committed. */
  ingest(part: ShardPart): Promise<IngestResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ part, resolve, reject })
      if (!this.flushing) {
        this.flushing = true
        // Yield to the event loop once, so parts delivered in the same tick join the first group.
        setTimeout(() => void this.flushLoop(), 0)
      }
    })
  }

  /** Cohorts over a range: stored cells merged with raw rows not yet compacted (unreadable ones left out and counted). */
  read(q: ShardQuery): ShardRead {
    const now = this.now()
    const read = readShard(this.sql, q, now, this.cfg.rollupAfterMs)
    const weights = cohortWeights(this.sql, q, now, this.cfg.rollupAfterMs)
    for (const c of read.cohorts) c.weights = weights.get(cohortId(c))
    read.deviceDropped = readDeviceDrops(this.sql, q)
    return read
  }

  /** Round 2 of a capped read: what to take away from each cohort for its devices above the cap. */
  excess(q: ShardQuery, caps: CohortCap[]): CohortExcess[] {
    return readExcess(this.sql, q, caps, this.now(), this.cfg.rollupAfterMs)
  }

  /** One slice dimension over a range, per cohort (the fleet view's `?slice=` and the `slice_gap` guardrail). */
  slices(q: ShardQuery & { dimension: SliceDimension; rollout?: string }): {
    cohorts: ShardCohortSlices[]
    skipped: number
  } {
    return readSliceCells(this.sql, q, this.now(), this.cfg.rollupAfterMs)
  }

  /** Per-device sums of rollout reports over a range (for rollout guardrails). */
  deviceStats(q: { from: number; to: number; rollout?: string }): DeviceStatsRow[] {
    return readDeviceStats(this.sql, q, this.now(), this.cfg.rollupAfterMs)
  }

  /** Adds refusal counts (the REFUSALS_SHARD object only) and forgets those past retention. */
  addRefusals(rows: RefusalRow[]): void {
    const now = this.now()
    this.ctx.storage.transactionSync(() => {
      for (const r of rows)
        this.sql.exec(
          `INSERT INTO refusals (minute, model, reason, count) VALUES (?1, ?2, ?3, ?4)
           ON CONFLICT (minute, model, reason) DO UPDATE SET count = count + excluded.count`,
          r.minute,
          r.model,
          r.reason,
          r.count,
        )
      this.sql.exec('DELETE FROM refusals WHERE minute < ?1', now - this.cfg.retentionMs)
    })
  }

  /** Refusal counts per model and reason over [from, to), of one model or of all. */
  refusals(q: { from: number; to: number; model?: string }): RefusalRow[] {
    const filters = ['minute >= ?1', 'minute < ?2']
    const args: unknown[] = [q.from, q.to]
    if (q.model !== undefined) filters.push(`model = ?${args.push(q.model)}`)
    return this.sql
      .exec<{ model: string; reason: string; count: number; minute: number }>(
        `SELECT MIN(minute) AS minute, model, reason, TOTAL(count) AS count FROM refusals WHERE ${filters.join(' AND ')}
         GROUP BY model, reason ORDER BY model, reason`,
        ...args,
      )
      .toArray()
      .map((r) => ({ minute: r.minute, model: r.model, reason: r.reason, count: r.count }))
  }

  /** Row counts of every table and the scheduled jobs (operations and tests). */
  inspect(): {
    raw: number
    rejected: number
    rejectedCells: number
    minuteCells: number
    hourCells: number
    deviceRows: number
    batches: number
    jobs: Record<string, number>
    commits: { groups: number; parts: number }
  } {
    const count = (sql: string) => this.sql.exec<{ n: number }>(sql).one().n
    const jobs = Object.fromEntries(
      this.sql
        .exec<{ job: string; due: number }>('SELECT job, due FROM schedule')
        .toArray()
        .map((r) => [r.job, r.due]),
    )
    return {
      raw: count('SELECT COUNT(*) AS n FROM raw'),
      rejected: count('SELECT COUNT(*) AS n FROM raw_rejected'),
      rejectedCells: count('SELECT COUNT(*) AS n FROM agg_rejected'),
      minuteCells: count("SELECT COUNT(*) AS n FROM agg WHERE grain = 'minute'"),
      hourCells: count("SELECT COUNT(*) AS n FROM agg WHERE grain = 'hour'"),
      deviceRows: count('SELECT COUNT(*) AS n FROM device_stats'),
      batches: count('SELECT COUNT(*) AS n FROM batches'),
      jobs,
      commits: { ...this.commits },
    }
  }

  /** Runs the due jobs (compact, rollup, retention), each in its own transaction, then re-arms. */
  override async alarm(): Promise<void> {
    const now = this.now()
    for (const job of this.schedule.due(now)) {
      try {
        this.ctx.storage.transactionSync(() => this.runJob(job, now))
      } catch (e) {
        // One failing job must not starve the others: retry it later, keep the error visible.
        console.error(`TelemetryShard job ${job} failed`, e)
        this.schedule.set(job, now + JOB_RETRY_MS)
      }
    }
    this.compactionDue = this.schedule.dueAt('compact') !== null
    await this.schedule.arm(this.now())
  }

  private runJob(job: string, now: number): void {
    if (job === 'compact') {
      const { more } = compactRaw(this.sql, now, this.cfg, this.beforeCompactionCommit)
      if (more) this.schedule.set('compact', now)
      else this.schedule.clear('compact')
    } else if (job === 'rollup') {
      const { more } = rollupMinutes(this.sql, now, this.cfg)
      if (more) this.schedule.set('rollup', now)
      else if (hasStoredData(this.sql)) this.schedule.set('rollup', nextHour(now))
      else this.schedule.clear('rollup')
    } else if (job === 'retention') {
      applyRetention(this.sql, now, this.cfg)
      if (hasStoredData(this.sql)) this.schedule.set('retention', nextHour(now))
      else this.schedule.clear('retention')
    } else this.schedule.clear(job)
  }

  /**
   * Group commit: writes everything pending in one transaction, waits until that commit is durable
   * (`storage.sync()`), answers the group, and repeats with whatever arrived meanwhile. At most one
   * commit is in flight, and the slower the disk, the larger the next group.
   */
  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const group = this.pending
        this.pending = []
        let results: IngestResult[]
        try {
          results = this.writeGroup(group.map((g) => g.part))
          if (this.armNeeded) {
            this.armNeeded = false
            this.schedule.arm(this.now()).catch((e) => console.error('TelemetryShard: setting the alarm failed', e))
          }
          await this.ctx.storage.sync()
        } catch (e) {
          for (const g of group) g.reject(e)
          continue
        }
        group.forEach((g, i) => g.resolve(results[i]))
      }
    } finally {
      this.flushing = false
    }
  }

  private writeGroup(parts: ShardPart[]): IngestResult[] {
    const now = this.now()
    let scheduled = false
    const results = this.ctx.storage.transactionSync(() => {
      const out = parts.map((part) => this.store(part))
      if (!this.compactionDue && out.some((r) => r.accepted > 0)) {
        this.schedule.set('compact', now + COMPACT_DELAY_MS, { earliest: true })
        this.schedule.set('rollup', nextHour(now), { earliest: true })
        this.schedule.set('retention', nextHour(now), { earliest: true })
        scheduled = true
      }
      return out
    })
    if (scheduled) this.compactionDue = this.armNeeded = true
    this.commits.groups++
    this.commits.parts += parts.length
    return results
  }

  private store(part: ShardPart): IngestResult {
    // A Worker of the previous deploy sends no rate: it counted every report at rate 1.
    const rate = part.sampleRate ?? 1
    if (!(rate > 0 && rate <= 1)) throw new RangeError(`a sample rate must be in (0, 1], got ${rate}`)
    const expires = part.firstWindowStart + this.cfg.horizonMs + DEDUPE_MARGIN_MS
    const cursor = this.sql.exec(
      'INSERT OR IGNORE INTO batches (batch_id, expires_at) VALUES (?1, ?2)',
      part.batchId,
      expires,
    )
    if (cursor.rowsWritten === 0) return { accepted: 0, duplicate: true }
    this.sql.exec(
      'INSERT INTO raw (device_key, received_at, reports, sample_rate, slices) VALUES (?1, ?2, ?3, ?4, ?5)',
      part.deviceKey,
      this.now(),
      part.reports,
      rate,
      part.slices ?? '{}',
    )
    // In the transaction of the batch id: a retried batch adds its drops as it adds its reports, once.
    const minute = Math.floor(this.now() / MINUTE) * MINUTE
    for (const [reason, n] of Object.entries(part.dropped ?? {}))
      if (n > 0)
        this.sql.exec(
          `INSERT INTO device_drops (minute, reason, count) VALUES (?1, ?2, ?3)
           ON CONFLICT (minute, reason) DO UPDATE SET count = count + excluded.count`,
          minute,
          reason,
          n,
        )
    return { accepted: part.count, duplicate: false }
  }
}

/** A minute past the next full hour. */
function nextHour(now: number): number {
  return (Math.floor(now / HOUR) + 1) * HOUR + 60_000
}
