import type { BinnedCounts, Report } from '../../core/formats/telemetry.ts'
import type { SdkDb } from '../db.ts'

/**
 * Optional local differential privacy on the histograms of a report (features and outputs). Each
 * histogram of a report keeps at most `clip` = C of its values (a uniform sample without replacement;
 * missing values count as one more bin), then every count gets independent Laplace noise, is rounded
 * and clamped at 0. Sensitivity: two device-windows can differ in each histogram by moving all of its
 * ≤ C values elsewhere, an L1 change of 2C, and in all H histograms of the report together by 2·C·H.
 * So b = 2·C·H/ε makes a report ε-DP with respect to the values it summarizes (Dwork & Roth 2014,
 * Thm 3.6, replacement neighbours). Counts, latency, loads, feedback and shadow agreement are sent
 * exact: the number of inferences is not protected, only what the inputs and outputs were. Data-quality
 * counts describe the inputs too and calibrated confidences the outputs, and neither carries noise, so a
 * report under DP goes without them.
 * Reports compose sequentially: a device spends ε per report with histograms, at most `dailyBudget`
 * per UTC day (`DpBudget`), after which reports go without histograms until the next UTC day.
 */
const DAY_MS = 86_400_000

/** One draw of Laplace(0, b) by inversion: X = −b·sgn(u)·ln(1 − 2|u|), u uniform on (−½, ½); E|X| = b, Var X = 2b². */
export function laplace(b: number, random: () => number): number {
  for (;;) {
    const u = random() - 0.5
    const tail = 1 - 2 * Math.abs(u)
    if (tail > 0) return -b * Math.sign(u) * Math.log(tail)
  }
}

/** The Laplace scale for a report of `histograms` histograms: b = 2·C·H/ε. */
export function laplaceScale(histograms: number, epsilon: number, clip: number): number {
  return (2 * clip * histograms) / epsilon
}

/** At most `clip` of a histogram's values, drawn uniformly without replacement (missing values are one more bin). */
export function clipHistogram(h: BinnedCounts, clip: number, random: () => number): BinnedCounts {
  const pool = [...h.counts, h.missing]
  let left = pool.reduce((a, b) => a + b, 0)
  if (left <= clip) return { counts: [...h.counts], missing: h.missing }
  const kept = new Array<number>(pool.length).fill(0)
  for (let k = 0; k < clip; k++, left--) {
    let r = Math.floor(random() * left)
    let i = 0
    while (r >= pool[i]) r -= pool[i++]
    pool[i]--
    kept[i]++
  }
  return { counts: kept.slice(0, -1), missing: kept[kept.length - 1] }
}

/** True when any histogram of the report holds a value (a report of nothing releases nothing and costs no ε). */
export function hasHistogramValues(r: Pick<Report, 'features' | 'outputs'>): boolean {
  for (const h of [...Object.values(r.features), ...Object.values(r.outputs)])
    if (h.missing > 0 || h.counts.some((c) => c > 0)) return true
  return false
}

/** The report without its histograms, data-quality counts and calibrated confidences (every other field as it was). */
export function withoutHistograms(r: Report): Report {
  const { quality: _quality, calibrated: _calibrated, ...rest } = r
  return { ...rest, features: {}, outputs: {} }
}

/** The report with every histogram clipped to C values and noised (b = 2·C·H/ε), rounded and clamped at 0, without data-quality counts or calibrated confidences; other fields untouched. */
export function privatizeReport(r: Report, dp: { epsilon: number; clip: number }, random: () => number): Report {
  const b = laplaceScale(Object.keys(r.features).length + Object.keys(r.outputs).length, dp.epsilon, dp.clip)
  const noisy = (n: number) => Math.max(0, n + Math.round(laplace(b, random)))
  const noise = (hs: Record<string, BinnedCounts>) => {
    const out: Record<string, BinnedCounts> = {}
    for (const [name, h] of Object.entries(hs)) {
      const c = clipHistogram(h, dp.clip, random)
      out[name] = { counts: c.counts.map(noisy), missing: noisy(c.missing) }
    }
    return out
  }
  const { quality: _quality, calibrated: _calibrated, ...rest } = r
  return { ...rest, features: noise(r.features), outputs: noise(r.outputs) }
}

/**
 * Uniform in [0, 1) from the platform's CSPRNG (53 bits): the default source of DP noise, since
 * `Math.random` is predictable enough to subtract the noise again. Rounding the noised counts to
 * integers also removes the low-order float bits Mironov (2012) showed to leak.
 */
export function cryptoRandom(): number {
  const [hi, lo] = crypto.getRandomValues(new Uint32Array(2))
  return ((hi >>> 5) * 67_108_864 + (lo >>> 6)) / 9_007_199_254_740_992
}

const LEDGER_KEY = 'dpBudget'

/**
 * The device's ε ledger for the current UTC day, in the IndexedDB `meta` store the origin's tabs
 * share: each spend is one read-write transaction, so tabs spending at once never exceed the budget.
 *
 * @example
 * const budget = new DpBudget(cache.database, 10)
 * if (await budget.spend(1, Date.now())) send(privatizeReport(r, dp, cryptoRandom))
 */
export class DpBudget {
  constructor(
    private readonly db: SdkDb,
    readonly daily: number,
  ) {}

  /** Spends `epsilon` on the UTC day of `now` if the day's budget allows it; false when it does not. */
  async spend(epsilon: number, now: number): Promise<boolean> {
    const day = Math.floor(now / DAY_MS)
    const tx = this.db.transaction('meta', 'readwrite')
    const ledger = (await tx.store.get(LEDGER_KEY)) as { day: number; spent: number } | undefined
    const spent = ledger?.day === day ? ledger.spent : 0
    // A relative slack so that ten spends of 0.1 fit a budget of 1 despite float rounding.
    const ok = spent + epsilon <= this.daily * (1 + 1e-9)
    if (ok) await tx.store.put({ day, spent: spent + epsilon }, LEDGER_KEY)
    await tx.done
    return ok
  }

  /** ε spent on the UTC day of `now`. */
  async spent(now: number): Promise<number> {
    const ledger = (await this.db.get('meta', LEDGER_KEY)) as { day: number; spent: number } | undefined
    return ledger?.day === Math.floor(now / DAY_MS) ? ledger.spent : 0
  }
}
