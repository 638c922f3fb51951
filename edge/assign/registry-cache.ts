/**
 * @module
 * The per-isolate cache of what the assign route reads from D1 on every request: a model's `production`
 * version, the version records it serves and its cohort allow-list and pins. Each entry is kept at most as long as the rollout cache
 * keeps a rollout (`ROLLOUT_CACHE_SECONDS`, ≤ 5 s), so an alias moved elsewhere reaches devices within
 * the same bound as a kill switch; a move, publish or deprecation in this isolate forgets the model at
 * once. Unknown models are never cached (a model created a moment later is served at once), and
 * concurrent misses share one query.
 */
import { productionOf } from '../db/aliases.ts'
import { cohortRouting, type CohortRouting } from '../db/cohorts.ts'
import { getVersion, type VersionRecord } from '../db/versions.ts'
import { rolloutCacheMs } from './rollout-cache.ts'

/** Most entries one isolate keeps (oldest forgotten first). */
const MAX_ENTRIES = 2_000

interface Entry<T> {
  value: Promise<T>
  at: number
}

/** What assignments read of the registry, at most `ttlMs` old. */
export class RegistryCache {
  readonly #entries = new Map<string, Entry<unknown>>()

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The model's production version (null when it has none yet), or null when the model does not exist. */
  production(db: D1Database, model: string): Promise<{ production: number | null } | null> {
    return this.#get(`p:${model}`, () => productionOf(db, model))
  }

  /** One version record, or null. */
  version(db: D1Database, model: string, version: number): Promise<VersionRecord | null> {
    return this.#get(`v:${model}:${version}`, () => getVersion(db, model, version))
  }

  /** The model's accepted cohort labels and pins (read only for devices that send a cohort). */
  cohorts(db: D1Database, model: string): Promise<CohortRouting> {
    return this.#get(`c:${model}`, () => cohortRouting(db, model)) as Promise<CohortRouting>
  }

  /** Forgets everything cached of `model` in this isolate. */
  forget(model: string): void {
    for (const key of this.#entries.keys())
      if (key === `p:${model}` || key === `c:${model}` || key.startsWith(`v:${model}:`)) this.#entries.delete(key)
  }

  #get<T>(key: string, load: () => Promise<T | null>): Promise<T | null> {
    const now = this.now()
    const hit = this.#entries.get(key) as Entry<T | null> | undefined
    if (hit && now - hit.at < this.ttlMs) return hit.value
    const value = load()
    if (this.ttlMs <= 0) return value
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value as string)
    const entry = { value, at: now }
    this.#entries.set(key, entry)
    // Failures and unknown models are not kept.
    value.then(
      (v) => v === null && this.#entries.get(key) === entry && this.#entries.delete(key),
      () => this.#entries.get(key) === entry && this.#entries.delete(key),
    )
    return value
  }
}

let shared: RegistryCache | null = null

/** The isolate's registry cache. */
export function registryCache(env: Env): RegistryCache {
  shared ??= new RegistryCache(rolloutCacheMs(env))
  return shared
}
