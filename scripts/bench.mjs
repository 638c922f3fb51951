// `npm run bench [-- name…]`: runs the benches (every bench/*.bench.ts, or those that measure the named
// rows or files: `sketch-add`, `sketch`, `sketch.bench.ts`), one after another, each in its own Node
// process through tsx so one bench's JIT state and garbage never skew the next. Each bench appends its
// rows (bench/results.ts) to a file named by BENCH_ROWS; at the end this prints ONE table (name,
// edgefleet, baseline, ratio, target, verdict) and writes bench/results.json. Exits 1 when a bench
// fails or misses a target, 2 when a name matches no bench.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dir = new URL('../bench/', import.meta.url)
const SUFFIX = '.bench.ts'

/** Which rows each bench reports: `npm run bench -- <row>` runs the bench that measures it. */
const ROWS = {
  predict: ['predict-overhead'],
  drift: ['drift-per-value'],
  sketch: ['sketch-add', 'sketch-merge', 'sketch-bytes'],
  size: ['sdk-size', 'worker-size-onnx', 'report-bytes'],
  'cold-start': ['cold-start-cached'],
  edge: ['assign-rps', 'runtime-wire-bytes', 'registry-scale', 'device-day'],
  ingest: ['ingest-rps'],
  fleet: ['fleet-scale'],
  dashboard: ['dashboard-render', 'dashboard-first-render'],
  load: ['load-errors', 'load-rss'],
}
const ORDER = Object.values(ROWS).flat()

const all = readdirSync(dir)
  .filter((f) => f.endsWith(SUFFIX))
  .map((f) => f.slice(0, -SUFFIX.length))
  .sort((a, b) => (Object.keys(ROWS).indexOf(a) >>> 0) - (Object.keys(ROWS).indexOf(b) >>> 0))

const wanted = process.argv.slice(2).map((w) => (w.endsWith(SUFFIX) ? w.slice(0, -SUFFIX.length) : w))
const benchOf = (w) => (all.includes(w) ? w : all.find((b) => ROWS[b]?.includes(w)))
const unknown = wanted.filter((w) => benchOf(w) === undefined)
if (unknown.length > 0) {
  console.error(`no such bench: ${unknown.join(', ')} (available: ${[...all, ...ORDER].join(', ')})`)
  process.exit(2)
}
const selected = wanted.length === 0 ? all : all.filter((b) => wanted.some((w) => benchOf(w) === b))

const out = `${root}bench/out/rows`
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })

const load = [loadavg()]
const started = performance.now()
const failed = []
const rows = []
for (const bench of selected) {
  console.log(`\n▶ bench/${bench}${SUFFIX}`)
  const t = performance.now()
  const file = `${out}/${bench}.jsonl`
  const run = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(`${bench}${SUFFIX}`, dir))], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, BENCH_ROWS: file },
  })
  const seconds = ((performance.now() - t) / 1000).toFixed(1)
  if (run.error) console.error(`  could not start: ${run.error.message}`)
  const got = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : []
  rows.push(...got.map((r) => ({ ...r, seconds: Number(seconds) })))
  const ok = run.status === 0
  console.log(
    `${ok ? '✓' : '✗'} bench/${bench}${SUFFIX} ${ok ? 'done' : `failed (${run.signal ?? `exit ${run.status}`})`} in ${seconds} s`,
  )
  if (!ok) failed.push(bench)
  load.push(loadavg())
}
rows.sort((a, b) => (ORDER.indexOf(a.name) >>> 0) - (ORDER.indexOf(b.name) >>> 0))

/** A figure with its unit, short. */
function figure(x, unit) {
  if (x === null || x === undefined) return '—'
  if (unit === 'bytes') return x >= 10_240 ? `${(x / 1024).toFixed(1)} KB` : `${Math.round(x).toLocaleString('en')} B`
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2
  return `${x.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${unit}`
}
const ratioText = (r) =>
  r.ratio === null || r.ratio === undefined
    ? '—'
    : `${r.ratio.toFixed(3)}${r.min !== undefined && r.baseline !== null ? ` (${r.min.toFixed(2)}–${r.max.toFixed(2)})` : ''}`
const table = [
  ['name', 'edgefleet', 'baseline', 'ratio (min–max)', 'target', 'verdict'],
  ...rows.map((r) => [
    r.name,
    figure(r.value, r.unit),
    figure(r.baseline, r.unit),
    ratioText(r),
    r.target,
    r.ok === null ? 'documented' : r.ok ? 'PASS' : 'FAIL',
  ]),
]
const widths = table[0].map((_, c) => Math.max(...table.map((row) => [...row[c]].length)))
console.log('')
for (const [i, row] of table.entries()) {
  console.log(row.map((cell, c) => cell + ' '.repeat(widths[c] - [...cell].length)).join('  '))
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '))
}
for (const r of rows.filter((r) => r.note)) console.log(`  ${r.name}: ${r.note}`)

const cpu = cpus()
const machine = {
  date: new Date().toISOString(),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  cpu: cpu[0]?.model.trim(),
  cores: cpu.length,
  memoryGB: Math.round(totalmem() / 2 ** 30),
  loadAverage: load.map((l) => Number(l[0].toFixed(2))),
  seconds: Math.round((performance.now() - started) / 1000),
  benches: selected,
}
const results = rows.map(({ seconds: _s, ...r }) => r)
writeFileSync(`${root}bench/results.json`, `${JSON.stringify({ machine, results }, null, 2)}\n`)

const missed = rows.filter((r) => r.ok === false).map((r) => r.name)
console.log(
  `\n${rows.length} figures from ${selected.length} benches in ${machine.seconds} s; bench/results.json written` +
    (missed.length ? `; missed: ${missed.join(', ')}` : '') +
    (failed.length ? `; failed: ${failed.join(', ')}` : ''),
)
process.exit(failed.length > 0 || missed.length > 0 ? 1 : 0)
