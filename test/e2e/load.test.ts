import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { root } from '../../bench/edge-server.ts'
import { runLoad } from '../../bench/load.ts'

// 60 s of the device mix of `npm run bench -- load` (bench/load.ts) against the real Worker in
// Miniflare on 127.0.0.1: assigns under a canary, telemetry from rotating devices and from one hot
// device the real per-device limit refuses. No timing is asserted: only what the edge answered.
describe('the device routes under 60 s of load', () => {
  it('answers every request but the hot device’s deliberate 429s, and stores every accepted batch once', async () => {
    const r = await runLoad({ seconds: 60, out: join(root, 'bench/out/load-e2e'), seed: 16 })
    console.log(
      `load: ${r.requests.assign + r.requests.telemetry + r.requests.hot} requests, ${JSON.stringify(r.statuses)}; RSS ${(r.rss.before / 2 ** 20).toFixed(1)} → ${(r.rss.after / 2 ** 20).toFixed(1)} MiB`,
    )
    expect(r.unexpectedSamples).toEqual([])
    expect(r.unexpected).toBe(0)
    expect(r.fivexx).toBe(0)
    // Every kind of request was made, and the limit did refuse the hot device.
    expect(r.requests.assign).toBeGreaterThan(0)
    expect(r.accepted).toBeGreaterThan(0)
    expect(r.deliberate429).toBeGreaterThan(0)
    expect(Object.keys(r.statuses.hot).sort()).toEqual(expect.arrayContaining(['429']))
    // No loss, no double count: every 202 is one stored batch; the only extra ones are those whose
    // answers the end of the run cut off.
    expect(r.stored).toBeGreaterThanOrEqual(r.accepted)
    expect(r.stored - r.accepted).toBeLessThanOrEqual(r.unanswered)
  }, 240_000)
})
