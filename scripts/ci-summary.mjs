// Prints "N passed, N failed" from vitest's JSON report. A file that failed to import or a broken
// setup raises only numFailedTestSuites, and an unhandled error is missing from the JSON while the
// exit code is 1: both count as failures here, so the line never reads green on a red run.
// Usage: node scripts/ci-summary.mjs report.json <vitest exit code>
import { existsSync, readFileSync } from 'node:fs'

const [file = 'report.json', statusArg = '0'] = process.argv.slice(2)
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
}
if (status !== 0 && failed === 0) failed = 1
if (passed === 0 && status === 0) {
  console.log('0 passed, 1 failed')
  process.exit(1)
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(status !== 0 ? status : failed > 0 ? 1 : 0)
