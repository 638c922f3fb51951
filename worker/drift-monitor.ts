import { EdgefleetError } from '../core/errors.ts'
import { binnedVerdict, LOCAL_DRIFT_POLICY, type DriftPolicy } from '../core/drift/policy.ts'
import type { FeatureProfile, Profile } from '../core/formats/profile.ts'
import { binIndexPadded, padEdges } from '../core/profile/bin.ts'
import type { HistogramCounts } from '../core/profile/histogram.ts'
import { CategoryCodes } from './category-codes.ts'
import type { FeatureDrift } from './protocol.ts'

/** Which side of the model a profiled name belongs to. */
export type ChannelGroup = 'features' | 'outputs'

interface Channel {
  readonly name: string
  readonly group: ChannelGroup
  readonly profile: FeatureProfile
  /** Where the channel's bins start in a flat count vector; its missing count follows its `bins` bins. */
  readonly offset: number
  readonly bins: number
  /** Inner edges padded for `binIndexPadded`. */
  readonly edges: Float64Array | undefined
  readonly codes: CategoryCodes | undefined
}

/** Drift of every profiled feature and output over the window, as `drift()` reports it. */
export interface DriftSnapshot {
  window: { start: number; end: number }
  features: Record<string, FeatureDrift>
  outputs: Record<string, FeatureDrift>
  drifted: string[]
}

const MINUTE = 60_000

/**
 * A model's local drift monitor: every value of a profiled feature or output is binned on the
 * reference profile's bins (core binning) into the current UTC minute of a ring of
 * `windowMinutes` minutes, and into totals since load. `report()` merges the ring and judges each
 * channel with core's `binnedVerdict` (chi-squared p < α AND JS > threshold).
 *
 * Cost per value: one binary search on Float64Array edges or one Map lookup, two increments, no
 * allocation. All counts live in flat arrays (one per minute, allocated once, reused by the ring).
 * Time is always a parameter.
 */
export class DriftMonitor {
  readonly windowMinutes: number
  readonly #channels: Channel[] = []
  readonly #index = new Map<string, number>()
  readonly #width: number
  readonly #ring: (Uint32Array | undefined)[]
  readonly #ringMinute: Float64Array
  readonly #totals: Float64Array
  readonly #collected: Float64Array
  readonly #loadedAt: number
  readonly #policy: Partial<DriftPolicy>
  #current: Uint32Array
  #currentMinute = Number.NEGATIVE_INFINITY

  constructor(profile: Profile, options: { now: number; windowMinutes?: number; policy?: Partial<DriftPolicy> }) {
    const windowMinutes = options.windowMinutes ?? 60
    if (!Number.isInteger(windowMinutes) || windowMinutes < 1 || windowMinutes > 24 * 60)
      throw new EdgefleetError(
        'bad_request',
        `driftWindowMinutes must be an integer in [1, 1440], got ${windowMinutes}`,
        { pointer: '/driftWindowMinutes' },
      )
    this.windowMinutes = windowMinutes
    let offset = 0
    for (const group of ['features', 'outputs'] as const) {
      for (const [name, p] of Object.entries(profile[group] ?? {})) {
        const bins = p.counts.length
        this.#index.set(`${group}\u0000${name}`, this.#channels.length)
        this.#channels.push({
          name,
          group,
          profile: p,
          offset,
          bins,
          edges: p.type === 'numeric' ? padEdges(p.edges) : undefined,
          codes: p.type === 'categorical' ? new CategoryCodes(p.categories) : undefined,
        })
        offset += bins + 1
      }
    }
    this.#width = offset
    this.#ring = new Array(windowMinutes).fill(undefined)
    this.#ringMinute = new Float64Array(windowMinutes).fill(Number.NaN)
    this.#totals = new Float64Array(offset)
    this.#collected = new Float64Array(offset)
    this.#loadedAt = options.now
    this.#policy = { ...LOCAL_DRIFT_POLICY, ...options.policy }
    this.#current = new Uint32Array(offset)
    this.at(options.now)
  }

  /** The channel of a profiled name, or -1 when the profile does not hold it. */
  channel(group: ChannelGroup, name: string): number {
    return this.#index.get(`${group}\u0000${name}`) ?? -1
  }

  /** The names the profile holds in `group`, with their types. */
  names(group: ChannelGroup): { name: string; type: FeatureProfile['type'] }[] {
    return this.#channels.filter((c) => c.group === group).map((c) => ({ name: c.name, type: c.profile.type }))
  }

  /** Moves to the minute of `now`; call before the `add`s of one prediction. A clock that steps back keeps counting into the newest minute. */
  at(now: number): void {
    const minute = Math.floor(now / MINUTE)
    if (minute <= this.#currentMinute) return
    const slot = ((minute % this.windowMinutes) + this.windowMinutes) % this.windowMinutes
    let counts = this.#ring[slot]
    if (counts === undefined) {
      counts = new Uint32Array(this.#width)
      this.#ring[slot] = counts
    } else if (this.#ringMinute[slot] !== minute) {
      counts.fill(0)
    }
    this.#ringMinute[slot] = minute
    this.#current = counts
    this.#currentMinute = minute
  }

  /** Counts one value of channel `c` (from `channel()`; -1 is ignored): into its bin, or as missing. */
  add(c: number, value: unknown): void {
    if (c < 0) return
    const ch = this.#channels[c]
    let bin: number
    if (ch.edges !== undefined) {
      // Finite numbers only (x − x is NaN for NaN and ±Infinity): the rest is missing (core/profile/values.ts).
      bin = typeof value === 'number' && value - value === 0 ? binIndexPadded(ch.edges, value) : ch.bins
    } else {
      const code = ch.codes!.code(value)
      bin = code < 0 ? ch.bins : code
    }
    this.#current[ch.offset + bin]++
    this.#totals[ch.offset + bin]++
  }

  /** Drift of every channel over the minutes (now − window, now], against the reference counts. */
  report(now: number): DriftSnapshot {
    const minute = Math.floor(now / MINUTE)
    const first = minute - this.windowMinutes + 1
    const merged = new Float64Array(this.#width)
    for (let s = 0; s < this.windowMinutes; s++) {
      const m = this.#ringMinute[s]
      const counts = this.#ring[s]
      if (counts === undefined || !(m >= first && m <= minute)) continue
      for (let i = 0; i < this.#width; i++) merged[i] += counts[i]
    }
    const snapshot: DriftSnapshot = {
      window: { start: Math.max(first, Math.floor(this.#loadedAt / MINUTE)) * MINUTE, end: (minute + 1) * MINUTE },
      features: {},
      outputs: {},
      drifted: [],
    }
    for (const ch of this.#channels) {
      const current = merged.subarray(ch.offset, ch.offset + ch.bins)
      const verdict = binnedVerdict(ch.profile.counts, current, this.#policy)
      let n = 0
      for (const c of current) n += c
      snapshot[ch.group][ch.name] = {
        type: ch.profile.type,
        n,
        missing: merged[ch.offset + ch.bins],
        psi: verdict.metrics.psi,
        js: verdict.metrics.js,
        chi2_p: verdict.metrics.chi2_p,
        drifted: verdict.drifted,
        reason: verdict.reason,
      }
      if (verdict.drifted) snapshot.drifted.push(ch.group === 'features' ? ch.name : `output:${ch.name}`)
    }
    return snapshot
  }

  /** Counts since the previous `collect()` (or the load), per channel; then starts a new delta. */
  collect(): { features: Record<string, HistogramCounts>; outputs: Record<string, HistogramCounts> } {
    const delta = { features: {} as Record<string, HistogramCounts>, outputs: {} as Record<string, HistogramCounts> }
    for (const ch of this.#channels) {
      const counts = new Array<number>(ch.bins)
      for (let i = 0; i < ch.bins; i++) counts[i] = this.#totals[ch.offset + i] - this.#collected[ch.offset + i]
      const m = ch.offset + ch.bins
      delta[ch.group][ch.name] = { counts, missing: this.#totals[m] - this.#collected[m] }
    }
    this.#collected.set(this.#totals)
    return delta
  }
}
