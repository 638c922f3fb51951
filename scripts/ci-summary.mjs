// Prints "N passed, N failed" from vitest's JSON report. A file that failed to import or a broken
// setup raises only numFailedTestSuites, and an unhandled error is missing from the JSON while the
// exit code is 1: both count as failures here, so the line never reads green on a red run.
// When vitest was stopped (a hung test), there is no JSON report: the counts come from the files that
// ended (ci-progress-reporter.mjs), each file that started and never ended is named and counts as
// one failure, and when every file ended (vitest hung between files), the last one to end is named.
// Usage: node scripts/ci-summary.mjs report.json <vitest exit code> [ci-progress.log]
import { existsSync, readFileSync } from 'node:fs'
import { PROGRESS_FILE } from './ci-progress-reporter.mjs'

const [file = 'report.json', statusArg = '0', progressFile = PROGRESS_FILE] = process.argv.slice(2)
const status = Number(statusArg)
let passed = 0
let failed = 0
if (existsSync(file)) {
  const report = JSON.parse(readFileSync(file, 'utf8'))
  passed = report.numPassedTests ?? 0
  const failedSuitesWithoutTests = (report.testResults ?? []).filter(
    (r) => r.status === 'failed' && (r.assertionResults ?? []).every((a) => a.status !== 'failed'),
  ).length
  failed = (report.numFailedTests ?? 0) + failedSuitesWithoutTests
} else if (existsSync(progressFile)) {
  const running = new Map()
  let last = null
  for (const line of readFileSync(progressFile, 'utf8').split('\n')) {
    if (!line.trim()) continue
    const entry = JSON.parse(line)
    const key = `${entry.project} ${entry.file}`
    if (entry.event === 'start') running.set(key, entry.at)
    else {
      running.delete(key)
      last = { key, at: entry.at }
      passed += entry.passed
      failed += entry.failed
    }
  }
  for (const [key, at] of running) {
    console.log(`never finished: ${key} (started ${Math.round((Date.now() - at) / 1000)} s ago)`)
    failed++
  }
  if (status !== 0 && running.size === 0 && last)
    console.log(
      `every file that started ended; the last was ${last.key}, ${Math.round((Date.now() - last.at) / 1000)} s ago`,
    )
}
if (status !== 0 && failed === 0) failed = 1
if (passed === 0 && status === 0) {
  console.log('0 passed, 1 failed')
  process.exit(1)
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(status !== 0 ? status : failed > 0 ? 1 : 0)
