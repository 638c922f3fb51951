/**
 * @module
 * The SDK's one IndexedDB database: its schema, name, version and upgrade, in one leaf module that the
 * file cache, the telemetry queue and the DP ledger import (as idb keeps one `DBSchema` and one
 * `upgrade`). Stores: verified files by SHA-256 (bytes apart from their metadata, so eviction never
 * reads bytes), the last-known-good assignment per model and the one before it, small settings, and
 * frozen telemetry batches, and the received pieces of large downloads in progress.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb'
import { EdgefleetError } from '../core/errors.ts'
import type { Assignment } from '../core/formats/assignment.ts'

/** A cached file's metadata (its bytes live in `fileBytes` under the same key). */
export interface FileMeta {
  sha256: string
  size: number
  lastUsed: number
}

/** The assignments held for one model. */
export interface ModelRecord {
  model: string
  current: Assignment
  /** The assignment before `current`, kept (with its files) for instant rollback. */
  previous?: Assignment
  etag?: string
  /** When the edge last confirmed `current` (ms): with ttlSeconds, when to ask again. */
  checkedAt: number
}

/** A telemetry batch frozen at creation: `body` is its JSON, serialized once, so a retry resends the same bytes. */
export interface QueuedBatch {
  /** Storage order (IndexedDB key); absent until stored. */
  seq?: number
  batchId: string
  body: string
  /** Reports inside, so a drop is counted in reports without parsing the body. */
  reports: number
  /** The drop counts this batch carries: re-counted if the batch itself is dropped, so none is lost. */
  dropped: Record<string, number>
  createdAt: number
}

interface SdkSchema extends DBSchema {
  fileMeta: { key: string; value: FileMeta; indexes: { lastUsed: number } }
  fileBytes: { key: string; value: ArrayBuffer }
  models: { key: string; value: ModelRecord }
  /** Small settings shared by the origin's tabs: the device id, pending drop counts, the DP ledger. */
  meta: { key: string; value: unknown }
  /** Frozen telemetry batches waiting to be sent (client/telemetry/queue.ts), oldest first. */
  telemetry: { key: number; value: QueuedBatch }
  /**
   * Received pieces of large downloads not finished yet, keyed `[sha256, offset]` (client/partials.ts):
   * unverified bytes, never read as a file; verified as a whole when the download completes.
   */
  partials: { key: [string, number]; value: ArrayBuffer }
}

/** The database's default name (`createFleet({dbName})` picks another). */
export const DB_NAME = 'edgefleet'
/** Bump with an `upgrade` step below; never rewrite an earlier step. */
export const DB_VERSION = 3

/** The SDK's IndexedDB database, typed. */
export type SdkDb = IDBPDatabase<SdkSchema>

/**
 * How long an upgrade waits for older connections (another tab still running an older SDK that does
 * not let go of the database) before giving up with `conflict`.
 */
export const BLOCKED_WAIT_MS = 3_000

/** Opens given up on while blocked, by database name: later opens queue behind them (IndexedDB runs them in order). */
const abandoned = new Map<string, Promise<void>>()

function blockedError(name: string): EdgefleetError {
  return new EdgefleetError(
    'conflict',
    `the local database "${name}" is held at an older version by another tab running an older version of the app; close or reload that tab and try again`,
  )
}

/**
 * Opens (and upgrades) the SDK's database. When another connection at an older version blocks the
 * upgrade for `blockedWaitMs`, rejects with `conflict` instead of waiting for ever; the next call tries
 * again (the upgrade goes through once that connection closes).
 */
export async function openDatabase(name = DB_NAME, blockedWaitMs = BLOCKED_WAIT_MS): Promise<SdkDb> {
  const earlier = abandoned.get(name)
  if (earlier) {
    // Still blocked, this open would queue behind that one and never hear of it.
    let timer: ReturnType<typeof setTimeout> | undefined
    const through = await Promise.race([
      earlier.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), blockedWaitMs))),
    ])
    clearTimeout(timer)
    if (!through) throw blockedError(name)
  }
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    let gaveUp = false
    const opening = openDB<SdkSchema>(name, DB_VERSION, {
      upgrade,
      blocked() {
        timer ??= setTimeout(() => {
          gaveUp = true
          const pending = opening.then(
            (db) => db.close(),
            () => undefined,
          )
          abandoned.set(name, pending)
          void pending.then(() => abandoned.get(name) === pending && abandoned.delete(name))
          reject(blockedError(name))
        }, blockedWaitMs)
      },
    })
    opening.then(
      (db) => {
        clearTimeout(timer)
        // Opened after we gave up (the other tab closed): the caller has moved on, so let go of it.
        if (!gaveUp) resolve(db)
      },
      (e) => {
        clearTimeout(timer)
        reject(e)
      },
    )
  })
}

function upgrade(db: IDBPDatabase<SdkSchema>, oldVersion: number): void {
  if (oldVersion < 1) {
    db.createObjectStore('fileMeta', { keyPath: 'sha256' }).createIndex('lastUsed', 'lastUsed')
    db.createObjectStore('fileBytes')
    db.createObjectStore('models', { keyPath: 'model' })
    db.createObjectStore('meta')
  }
  if (oldVersion < 2) {
    db.createObjectStore('telemetry', { keyPath: 'seq', autoIncrement: true })
  }
  if (oldVersion < 3) {
    db.createObjectStore('partials')
  }
}
