/**
 * @module
 * Seeded randomness for tests, benchmarks, fixture scripts and the simulator, so every run replays.
 */

/** A seeded PRNG (mulberry32) so every randomized test replays exactly. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Standard normal draws (Box–Muller) from a seeded uniform source. */
export function seededNormal(rand: () => number): () => number {
  return () => {
    const u = 1 - rand()
    const v = rand()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }
}

/** `n` seeded pseudonymous device ids shaped like the SDK's (22 url-safe characters). */
export function seededDeviceIds(n: number, seed: number): string[] {
  const rand = seededRandom(seed)
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  return Array.from({ length: n }, () => Array.from({ length: 22 }, () => alphabet[Math.floor(rand() * 64)]).join(''))
}

/** A seeded Fisher–Yates shuffle (a new array). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}
