// A vitest reporter for CI: one JSON line per test file as it starts and as it ends (with its tests'
// counts), appended to ci-progress.log and flushed at once. When a hung test makes CI stop vitest, its
// JSON report is never written; ci-summary.mjs then counts from these lines and names every file that
// started and never ended.
// Usage: vitest run --reporter=default --reporter=./scripts/ci-progress-reporter.mjs
import { appendFileSync, writeFileSync } from 'node:fs'

export const PROGRESS_FILE = 'ci-progress.log'

export default class CiProgressReporter {
  onInit() {
    writeFileSync(PROGRESS_FILE, '')
  }

  onTestModuleStart(module) {
    this.#write({ event: 'start', project: module.project.name, file: module.relativeModuleId })
  }

  onTestModuleEnd(module) {
    const count = { passed: 0, failed: 0, skipped: 0 }
    for (const test of module.children.allTests()) {
      const state = test.result().state
      if (state in count) count[state]++
    }
    // A file that fails to import, or in a hook outside any test, has no failed test but is not ok.
    const broken = module.state() === 'failed' && count.failed === 0
    this.#write({
      event: 'end',
      project: module.project.name,
      file: module.relativeModuleId,
      ...count,
      failed: count.failed + (broken ? 1 : 0),
    })
  }

  #write(line) {
    appendFileSync(PROGRESS_FILE, `${JSON.stringify({ ...line, at: Date.now() })}\n`)
  }
}
