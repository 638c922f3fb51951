import { DurableObject } from 'cloudflare:workers'
import type { IngestResult, ShardPart } from '../telemetry/shard.ts'

/** Parts remembered (the dedupe set is bounded the same way). */
const CAPACITY = 50_000

/**
 * Bench-only baseline: a Durable Object that takes the same validated parts as TelemetryShard and
 * keeps them only in memory (dedupe included), so `POST /bench/telemetry-memory` measures the local
 * ceiling of the ingestion path without any durable write. Never bound in wrangler.toml.
 */
export class MemorySink extends DurableObject<Env> {
  private readonly seen = new Set<string>()
  private readonly ring: (string | undefined)[] = new Array(CAPACITY)
  private readonly parts: (ShardPart | undefined)[] = new Array(CAPACITY)
  private next = 0

  /** Same contract as `TelemetryShard.ingest`, without durability. */
  ingest(part: ShardPart): IngestResult {
    if (this.seen.has(part.batchId)) return { accepted: 0, duplicate: true }
    const evicted = this.ring[this.next]
    if (evicted !== undefined) this.seen.delete(evicted)
    this.ring[this.next] = part.batchId
    this.parts[this.next] = part
    this.next = (this.next + 1) % CAPACITY
    this.seen.add(part.batchId)
    return { accepted: part.count, duplicate: false }
  }
}
