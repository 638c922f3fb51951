import type { RolloutAssignView } from '../../core/rollout/assign.ts'
import { modelControl } from '../control/stub.ts'

/** Reads a model's active rollout from its ModelControl (one Durable Object round trip). */
export type RolloutLoader = (model: string) => Promise<RolloutAssignView | null>

interface Entry {
  view: RolloutAssignView | null
  fetchedAt: number
  /** A refresh in flight: concurrent assigns of one model share it. */
  pending: Promise<RolloutAssignView | null> | null
}

/** Most models whose rollout one isolate remembers (least recently refreshed forgotten first). */
const MAX_MODELS = 1_000
/** Longest a config may be cached (DESIGN: a kill switch reaches the edge within 5 s). */
export const MAX_CACHE_MS = 5_000

/**
 * The per-isolate rollout cache of the assign route: at most one ModelControl read per model every
 * `ttlMs` (≤ 5 s) per isolate, instead of one per assign, with concurrent misses coalesced. Not KV:
 * KV propagates in ≥ 60 s. When a refresh fails, the last known config is served (and the refresh
 * retried on the next request) rather than failing assignments; with no config known the error
 * surfaces.
 */
export class RolloutCache {
  private readonly entries = new Map<string, Entry>()

  constructor(
    private readonly load: RolloutLoader,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The active rollout of `model`, at most `ttlMs` old. */
  async get(model: string): Promise<RolloutAssignView | null> {
    const entry = this.entries.get(model)
    const now = this.now()
    if (entry && now - entry.fetchedAt < this.ttlMs) return entry.view
    if (entry?.pending) return entry.pending
    const pending = this.load(model)
    const slot: Entry = entry ?? { view: null, fetchedAt: -Infinity, pending: null }
    slot.pending = pending
    if (!entry) this.remember(model, slot)
    try {
      const view = await pending
      slot.view = view
      slot.fetchedAt = this.now()
      return view
    } catch (e) {
      if (slot.fetchedAt === -Infinity) {
        this.entries.delete(model)
        throw e
      }
      console.error(`rollout config of ${model} could not be refreshed; serving the last known`, e)
      return slot.view
    } finally {
      slot.pending = null
    }
  }

  /** Forgets a model's config in this isolate (after an action taken here, so it applies at once). */
  forget(model: string): void {
    this.entries.delete(model)
  }

  private remember(model: string, entry: Entry): void {
    if (this.entries.size >= MAX_MODELS) this.entries.delete(this.entries.keys().next().value as string)
    this.entries.set(model, entry)
  }
}

/** The cache TTL from `ROLLOUT_CACHE_SECONDS` (default 5, at most 5; 0 turns caching off). */
export function rolloutCacheMs(env: { ROLLOUT_CACHE_SECONDS?: unknown }): number {
  const raw = env.ROLLOUT_CACHE_SECONDS
  const seconds = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : typeof raw === 'number' ? raw : 5
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, MAX_CACHE_MS) : MAX_CACHE_MS
}

let shared: RolloutCache | null = null

/** The isolate's cache (one per isolate: bindings and vars do not change within one). */
export function rolloutCache(env: Env): RolloutCache {
  shared ??= new RolloutCache((model) => modelControl(env, model).assignView(), rolloutCacheMs(env))
  return shared
}
