// Stops what a CI run left running. Every process started under .ci/run inherits EDGEFLEET_CI_RUN;
// one still alive after the tests (a server a test forgot, a browser a crashed test never closed)
// would keep CI's output open and CI waiting. Each is named, then killed. Only processes carrying
// this run's marker are touched, never this script or the shells that called it.
// Usage: node scripts/ci-leftovers.mjs   (Linux /proc; elsewhere it does nothing)
import { existsSync, readdirSync, readFileSync } from 'node:fs'

const marker = process.env.EDGEFLEET_CI_RUN
if (!marker || !existsSync('/proc/self/environ')) process.exit(0)

const read = (pid, file) => {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8')
  } catch {
    return ''
  }
}
const parentOf = (pid) => Number(/^\d+ \(.*\) \S+ (\d+)/s.exec(read(pid, 'stat'))?.[1] ?? 0)

const spared = new Set()
for (let pid = process.pid; pid > 1; pid = parentOf(pid)) spared.add(pid)

const left = readdirSync('/proc')
  .filter((d) => /^\d+$/.test(d))
  .map(Number)
  .filter((pid) => !spared.has(pid) && read(pid, 'environ').split('\0').includes(`EDGEFLEET_CI_RUN=${marker}`))

for (const pid of left) {
  const cmd = read(pid, 'cmdline').split('\0').join(' ').trim().slice(0, 160)
  console.log(`left running after the tests, killed: ${pid} ${cmd}`)
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // gone meanwhile
  }
}
