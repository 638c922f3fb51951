/**
 * @module
 * `npm run bench -- load` (rows `load-errors`, `load-rss`): ≥ 60 s of the device mix of bench/load.ts
 * (60% assign under a canary, 30% telemetry from rotating devices, 10% telemetry from one hot device
 * the real per-device limit refuses) against the bench edge on 127.0.0.1.
 * - `load-errors`: answers other than 200/304/202 and the hot device's deliberate 429s, plus socket
 *   errors and timeouts. Target 0. Telemetry 202s are checked against the batches the shard stored.
 * - `load-rss`: peak RSS of the workerd process (sampled every 5 s) in the second half of the run ÷ its
 *   peak in the first half, after LOAD_WARMUP s of uncounted load (60 by default: the RSS climbs for
 *   about a minute while V8 and SQLite caches fill, then saws between GCs; bench/README.md). Target
 *   ≤ 1.1 (flat). The RSS after the warm-up and at the end are printed and kept in the note.
 * Knobs (environment): LOAD_SECONDS (default 60), LOAD_WARMUP (default 60), CONNECTIONS (default 10).
 */
import { runLoad } from './load.ts'
import { record } from './results.ts'

const SECONDS = Number(process.env.LOAD_SECONDS ?? 60)
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 10)
const WARMUP = Number(process.env.LOAD_WARMUP ?? 60)
/** The largest growth of the peak RSS from the first half of the run to the second still called flat. */
const RSS_TARGET = 1.1

const r = await runLoad({
  seconds: SECONDS,
  warmupSeconds: WARMUP,
  connections: CONNECTIONS,
  log: (line) => console.log(line),
})
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`
const total = r.requests.assign + r.requests.telemetry + r.requests.hot
console.log(
  `${total} requests in ${r.seconds} s (${r.rps.toFixed(0)} req/s): assign ${JSON.stringify(r.statuses.assign)}, telemetry ${JSON.stringify(r.statuses.telemetry)}, hot device ${JSON.stringify(r.statuses.hot)}`,
)
console.log(
  `deliberate 429s ${r.deliberate429}; unexpected ${r.unexpected}${r.unexpectedSamples.length ? ` (${r.unexpectedSamples.join('; ')})` : ''}; 5xx ${r.fivexx}; telemetry 202s ${r.accepted}, batches stored ${r.stored}, ${r.unanswered} in flight when the run stopped`,
)
console.log(
  `workerd RSS: ${mib(r.rss.before)} after the warm-up, ${mib(r.rss.half)} half-way, ${mib(r.rss.after)} at the end; every 5 s: ${r.rss.samples.map(mib).join(', ')}; persisted state ${mib(r.stateBytes)}`,
)
const half = Math.floor(r.rss.samples.length / 2)
const firstPeak = Math.max(...r.rss.samples.slice(0, half))
const secondPeak = Math.max(...r.rss.samples.slice(half), r.rss.after)
const growth = secondPeak / firstPeak
/** Every 202 stored once; the shard may also hold batches whose answers the end of the run cut off. */
const exact = r.stored >= r.accepted && r.stored <= r.accepted + r.unanswered
record(
  {
    name: 'load-errors',
    unit: 'errors',
    value: r.unexpected,
    baseline: null,
    ratio: null,
    target: '0',
    ok: r.unexpected === 0 && r.fivexx === 0 && exact,
    note: `${r.seconds} s, ${r.connections} connections, ${total} requests (${r.rps.toFixed(0)} req/s: assign ${r.requests.assign}, telemetry ${r.requests.telemetry}, hot device ${r.requests.hot}); deliberate 429s ${r.deliberate429}; 5xx ${r.fivexx}; telemetry 202s ${r.accepted}, stored ${r.stored} (${r.unanswered} in flight at the end)`,
  },
  {
    name: 'load-rss',
    unit: 'MiB',
    value: secondPeak / 2 ** 20,
    baseline: firstPeak / 2 ** 20,
    ratio: growth,
    target: `≤ ${RSS_TARGET}`,
    ok: growth <= RSS_TARGET,
    note: `peak RSS of the workerd process in the second half of the run ÷ in the first; ${mib(r.rss.before)} after the ${WARMUP} s warm-up, ${mib(r.rss.after)} at the end (every 5 s: ${r.rss.samples.map((b) => (b / 2 ** 20).toFixed(0)).join(', ')} MiB); persisted state ${mib(r.stateBytes)}`,
  },
)
