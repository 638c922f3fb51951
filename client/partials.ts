/**
 * @module
 * Pieces of large downloads kept in IndexedDB while they arrive, so a download cut off by a network drop
 * or a reload continues where it stopped (with an HTTP Range request) instead of starting over. Pieces are
 * unverified bytes: they are never served as a file, and the whole file is verified against its SHA-256
 * once complete (client/download.ts); a file that fails is discarded with its pieces.
 */
import type { SdkDb } from './db.ts'

/** The pieces of one file received so far, in order, and how many bytes they hold from offset 0. */
export interface Received {
  pieces: ArrayBuffer[]
  bytes: number
}

/** The store of download pieces, by file SHA-256 and byte offset. */
export class PartialDownloads {
  constructor(private readonly db: SdkDb) {}

  /** The contiguous pieces from offset 0 (a gap ends them: what follows it is dropped). */
  async received(sha256: string): Promise<Received> {
    const range = IDBKeyRange.bound([sha256, 0], [sha256, Number.MAX_SAFE_INTEGER])
    const tx = this.db.transaction('partials', 'readwrite')
    const pieces: ArrayBuffer[] = []
    let bytes = 0
    for (let cursor = await tx.store.openCursor(range); cursor; cursor = await cursor.continue()) {
      if (cursor.key[1] === bytes) {
        pieces.push(cursor.value)
        bytes += cursor.value.byteLength
      } else await cursor.delete()
    }
    await tx.done
    return { pieces, bytes }
  }

  /** Keeps a piece that starts at `offset`. Storage refusing it only costs the ability to resume. */
  async add(sha256: string, offset: number, piece: ArrayBuffer): Promise<void> {
    await this.db.put('partials', piece, [sha256, offset]).catch(() => undefined)
  }

  /** Forgets every piece of a file (completed, or found corrupt). */
  async discard(sha256: string): Promise<void> {
    await this.db.delete('partials', IDBKeyRange.bound([sha256, 0], [sha256, Number.MAX_SAFE_INTEGER]))
  }
}
