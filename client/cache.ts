/**
 * @module
 * The file and assignment cache over the SDK's IndexedDB database (client/db.ts): verified files by
 * SHA-256 with least-recently-used eviction in tiers within a byte budget and the origin's quota, the
 * last-known-good assignment per model and the one before it (instant rollback), and small settings.
 */
import { EdgefleetError } from '../core/errors.ts'
import { toHex } from '../core/hex.ts'
import type { Assignment } from '../core/formats/assignment.ts'
import type { FileMeta, ModelRecord, SdkDb } from './db.ts'
import { PartialDownloads } from './partials.ts'

/** Default byte budget: generous for models, small enough to leave room for the app. */
export const DEFAULT_BUDGET_BYTES = 512 * 1024 * 1024

export interface ModelCacheOptions {
  budgetBytes?: number
  now?: () => number
  /** The origin's storage estimate (default `navigator.storage.estimate`), to stay under the quota. */
  estimate?: () => Promise<{ usage?: number; quota?: number }>
}

const isQuotaError = (e: unknown) =>
  e instanceof DOMException && (e.name === 'QuotaExceededError' || e.name === 'UnknownError')

/** The file and model cache over one IndexedDB database. */
export class ModelCache {
  readonly budgetBytes: number
  private readonly now: () => number
  /** Files that must survive eviction whatever their age (e.g. runtime files in use). */
  private readonly pinned = new Set<string>()

  private readonly estimate: () => Promise<{ usage?: number; quota?: number }>
  #partials?: PartialDownloads

  constructor(
    private readonly db: SdkDb,
    options: ModelCacheOptions = {},
  ) {
    this.budgetBytes = options.budgetBytes ?? DEFAULT_BUDGET_BYTES
    this.now = options.now ?? Date.now
    this.estimate =
      options.estimate ??
      (async () =>
        typeof navigator !== 'undefined' && navigator.storage?.estimate ? navigator.storage.estimate() : {})
  }

  /** Pieces of large downloads in progress, so an interrupted one resumes (client/partials.ts). */
  get partials(): PartialDownloads {
    this.#partials ??= new PartialDownloads(this.db)
    return this.#partials
  }

  /** The database itself, for stores other parts of the SDK own (the telemetry queue). */
  get database(): SdkDb {
    return this.db
  }

  /** Keeps these files through eviction for the life of this cache object (runtime files, models in use). */
  pin(sha256s: Iterable<string>): void {
    for (const s of sha256s) this.pinned.add(s)
  }

  /**
   * The bytes of a cached file (and marks it used), or null. The bytes are checked against their
   * SHA-256 and size on every read: an entry damaged on disk (or by another script of the origin) is
   * deleted and reported as `corrupt`, so it is downloaded again rather than run.
   */
  async getFile(sha256: string, size?: number): Promise<{ bytes: ArrayBuffer | null; corrupt: boolean }> {
    const bytes = await this.db.get('fileBytes', sha256)
    if (!bytes) return { bytes: null, corrupt: false }
    if (
      !(bytes instanceof ArrayBuffer) ||
      (size !== undefined && bytes.byteLength !== size) ||
      toHex(await crypto.subtle.digest('SHA-256', bytes)) !== sha256
    ) {
      await this.deleteFile(sha256)
      return { bytes: null, corrupt: true }
    }
    const meta = await this.db.get('fileMeta', sha256)
    if (meta) await this.db.put('fileMeta', { ...meta, lastUsed: this.now() })
    return { bytes, corrupt: false }
  }

  /** True when the file is cached. */
  async hasFile(sha256: string): Promise<boolean> {
    return (await this.db.getKey('fileMeta', sha256)) !== undefined
  }

  /**
   * Stores verified bytes, first evicting least-recently-used unprotected files to stay within the
   * budget; on QuotaExceededError evicts more and retries, and fails with `quota_exceeded` only
   * when nothing evictable is left.
   */
  async putFile(sha256: string, bytes: ArrayBuffer, protect: Iterable<string> = []): Promise<void> {
    const keep = new Set([...protect, sha256])
    await this.evict(bytes.byteLength, keep)
    await this.evictForQuota(bytes.byteLength, keep)
    for (;;) {
      try {
        const tx = this.db.transaction(['fileMeta', 'fileBytes'], 'readwrite')
        await Promise.all([
          tx.objectStore('fileBytes').put(bytes, sha256),
          tx.objectStore('fileMeta').put({ sha256, size: bytes.byteLength, lastUsed: this.now() }),
          tx.done,
        ])
        return
      } catch (e) {
        if (!isQuotaError(e)) throw e
        if ((await this.evictOldest(keep)) === 0)
          throw new EdgefleetError(
            'quota_exceeded',
            `no room for ${bytes.byteLength} bytes in the browser's storage quota`,
            { cause: e },
          )
      }
    }
  }

  /** Bytes held by cached files. */
  async totalBytes(): Promise<number> {
    let total = 0
    for (const m of await this.db.getAll('fileMeta')) total += m.size
    return total
  }

  /** Every cached file's metadata, least recently used first. */
  async files(): Promise<FileMeta[]> {
    return this.db.getAllFromIndex('fileMeta', 'lastUsed')
  }

  /**
   * Bytes that could be stored now by the origin's storage estimate: the quota left (usage taken as the
   * larger of the browser's figure and this cache's own ledger, which does not lag fresh writes) plus
   * every file eviction could free, never `keep` or pinned files. Undefined when the browser gives no
   * estimate.
   */
  async roomFor(keep: Iterable<string>): Promise<number | undefined> {
    const { usage, quota } = await this.estimate().catch(() => ({}) as { usage?: number; quota?: number })
    if (usage === undefined || quota === undefined) return undefined
    const files = await this.files()
    const held = files.reduce((a, f) => a + f.size, 0)
    const evictable = (await this.victims(files, new Set(keep))).reduce((a, f) => a + f.size, 0)
    return quota - Math.max(usage, held) + evictable
  }

  /** Evicts LRU unprotected files until `incoming` more bytes fit the budget; returns bytes freed. */
  async evict(incoming: number, keep: Set<string>): Promise<number> {
    const files = await this.files()
    let total = files.reduce((a, f) => a + f.size, 0)
    let freed = 0
    for (const victim of await this.victims(files, keep)) {
      if (total + incoming <= this.budgetBytes) break
      await this.deleteFile(victim.sha256)
      total -= victim.size
      freed += victim.size
    }
    return freed
  }

  /**
   * Makes room under the origin's quota before writing, rather than waiting for the browser to
   * refuse: Chromium reports a QuotaExceededError only after a failed transaction, and not always
   * promptly for large values. Evicts in `victims` order until `incoming` fits (with 5% headroom).
   */
  private async evictForQuota(incoming: number, keep: Set<string>): Promise<void> {
    const { usage, quota } = await this.estimate().catch(() => ({}) as { usage?: number; quota?: number })
    if (usage === undefined || quota === undefined) return
    // The browser's usage figure lags fresh writes; our own ledger of cached bytes does not.
    const files = await this.files()
    let room =
      quota -
      Math.max(
        usage,
        files.reduce((a, f) => a + f.size, 0),
      )
    for (const victim of await this.victims(files, keep)) {
      if (room >= incoming * 1.05) return
      await this.deleteFile(victim.sha256)
      room += victim.size
    }
  }

  private async evictOldest(keep: Set<string>): Promise<number> {
    const [victim] = await this.victims(await this.files(), keep)
    if (!victim) return 0
    await this.deleteFile(victim.sha256)
    return victim.size
  }

  /**
   * Eviction order, oldest first within each tier: files no model refers to; files of previous
   * versions (the instant-rollback copies); current files (and current shadows') of models this page
   * is not using. Never
   * evicted: pinned files (runtime files and models in use here) and the file being stored.
   */
  private async victims(files: FileMeta[], keep: Set<string>): Promise<FileMeta[]> {
    const current = new Set<string>()
    const previous = new Set<string>()
    for (const r of await this.db.getAll('models')) {
      for (const f of [...r.current.files, ...(r.current.shadow?.files ?? [])]) current.add(f.sha256)
      for (const f of r.previous?.files ?? []) previous.add(f.sha256)
    }
    const free = files.filter((f) => !keep.has(f.sha256) && !this.pinned.has(f.sha256))
    const tier = (f: FileMeta) => (current.has(f.sha256) ? 2 : previous.has(f.sha256) ? 1 : 0)
    return [
      ...free.filter((f) => tier(f) === 0),
      ...free.filter((f) => tier(f) === 1),
      ...free.filter((f) => tier(f) === 2),
    ]
  }

  private async deleteFile(sha256: string): Promise<void> {
    const tx = this.db.transaction(['fileMeta', 'fileBytes'], 'readwrite')
    await Promise.all([tx.objectStore('fileBytes').delete(sha256), tx.objectStore('fileMeta').delete(sha256), tx.done])
  }

  /** The stored assignment record of a model. */
  getModel(model: string): Promise<ModelRecord | undefined> {
    return this.db.get('models', model)
  }

  /** Records a newly confirmed assignment; a changed version moves the old one to `previous`. */
  async putAssignment(
    model: string,
    assignment: Assignment,
    etag: string | undefined,
    checkedAt: number,
  ): Promise<ModelRecord> {
    const tx = this.db.transaction('models', 'readwrite')
    const before = await tx.store.get(model)
    let record: ModelRecord
    if (!before) record = { model, current: assignment, etag, checkedAt }
    else if (before.current.version === assignment.version) record = { ...before, current: assignment, etag, checkedAt }
    else record = { model, current: assignment, previous: before.current, etag, checkedAt }
    await tx.store.put(record)
    await tx.done
    return record
  }

  /** Marks the stored assignment as confirmed again (a 304). */
  async touchAssignment(model: string, checkedAt: number): Promise<void> {
    const tx = this.db.transaction('models', 'readwrite')
    const before = await tx.store.get(model)
    if (before) await tx.store.put({ ...before, checkedAt })
    await tx.done
  }

  /** A small setting (device id, …). */
  getMeta<T>(key: string): Promise<T | undefined> {
    return this.db.get('meta', key) as Promise<T | undefined>
  }

  /** Replaces a setting by `update(previous)` inside one transaction, so concurrent tabs add up. */
  async updateMeta<T>(key: string, update: (before: T | undefined) => T): Promise<T> {
    const tx = this.db.transaction('meta', 'readwrite')
    const value = update((await tx.store.get(key)) as T | undefined)
    await tx.store.put(value, key)
    await tx.done
    return value
  }

  /** Reads a setting, creating it inside one transaction if absent, so concurrent tabs agree. */
  async getOrCreateMeta<T>(key: string, create: () => T): Promise<T> {
    const tx = this.db.transaction('meta', 'readwrite')
    const existing = (await tx.store.get(key)) as T | undefined
    if (existing !== undefined) {
      await tx.done
      return existing
    }
    const value = create()
    await tx.store.put(value, key)
    await tx.done
    return value
  }

  /** Closes the database connection. */
  close(): void {
    this.db.close()
  }
}
