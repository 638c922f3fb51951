// `npm run bench [-- name…]`: runs every bench/*.bench.ts (or only those named: `sketch` or
// `sketch.bench.ts`), one after another, each in its own Node process through tsx so one bench's JIT
// state and garbage never skew the next. Output streams through; exits 1 when any bench fails (an error
// or a missed target), 2 when a named bench does not exist.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dir = new URL('../bench/', import.meta.url)
const SUFFIX = '.bench.ts'
const all = readdirSync(dir)
  .filter((f) => f.endsWith(SUFFIX))
  .sort()

const wanted = process.argv.slice(2)
const unknown = wanted.filter((w) => !all.includes(w) && !all.includes(`${w}${SUFFIX}`))
if (unknown.length > 0) {
  console.error(
    `no such bench: ${unknown.join(', ')} (available: ${all.map((f) => f.slice(0, -SUFFIX.length)).join(', ')})`,
  )
  process.exit(2)
}
const selected =
  wanted.length === 0 ? all : all.filter((f) => wanted.includes(f) || wanted.includes(f.slice(0, -SUFFIX.length)))

const failed = []
for (const file of selected) {
  console.log(`\n▶ bench/${file}`)
  const started = performance.now()
  const run = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(file, dir))], {
    cwd: root,
    stdio: 'inherit',
  })
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  if (run.error) console.error(`  could not start: ${run.error.message}`)
  const ok = run.status === 0
  console.log(
    `${ok ? '✓' : '✗'} bench/${file} ${ok ? 'passed' : `failed (${run.signal ?? `exit ${run.status}`})`} in ${seconds} s`,
  )
  if (!ok) failed.push(file)
}

console.log(
  `\n${selected.length - failed.length} of ${selected.length} benches passed${failed.length ? `; failed: ${failed.join(', ')}` : ''}`,
)
process.exit(failed.length > 0 ? 1 : 0)
