// Build outputs that a running server serves (public/ for `wrangler dev`, dist/sdk for the test pages)
// are updated in place, never emptied and refilled: a page loading while another process builds gets
// the old file or the new one, and a file whose bytes did not change is not touched, so file watchers
// (wrangler dev reloads its assets on any change under public/) stay quiet.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'

/** Where a file is written before it is renamed over its place; other builds' are never removed. */
const PENDING = /\.pending-\d+$/

/** The files under `dir`, as `/`-separated paths relative to it. */
function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort()
}

/** Every file under `dir` as a map from its path relative to `dir` to its bytes. */
export function readTree(dir) {
  return new Map(filesUnder(dir).map((path) => [path, readFileSync(join(dir, path))]))
}

/**
 * Makes `dir` hold exactly `files` (relative path → bytes): a changed or new file is written beside its
 * place and renamed over it, an unchanged one is left alone, and files no longer among `files` are
 * removed last. Returns the paths written and removed.
 */
export function syncFiles(dir, files) {
  mkdirSync(dir, { recursive: true })
  const written = []
  for (const [path, bytes] of files) {
    const target = join(dir, path)
    if (existsSync(target) && readFileSync(target).equals(bytes)) continue
    mkdirSync(dirname(target), { recursive: true })
    const pending = `${target}.pending-${process.pid}`
    writeFileSync(pending, bytes)
    renameSync(pending, target)
    written.push(path)
  }
  const removed = []
  for (const path of filesUnder(dir))
    if (!files.has(path) && !PENDING.test(path)) {
      rmSync(join(dir, path), { force: true })
      removed.push(path)
    }
  return { written, removed }
}
