// Build outputs are synced into the folders servers read (public/, dist/sdk): never emptied, changed
// files renamed into place, unchanged ones untouched, files no longer built removed.
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
// @ts-expect-error: a plain .mjs script without declarations
import { readTree as readTreeJs, syncFiles as syncFilesJs } from '../../scripts/lib/sync-files.mjs'

const syncFiles = syncFilesJs as (
  dir: string,
  files: Map<string, Uint8Array>,
) => { written: string[]; removed: string[] }
const readTree = readTreeJs as (dir: string) => Map<string, Buffer>

const dirs: string[] = []
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })))

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-sync-'))
  dirs.push(dir)
  return join(dir, 'out')
}

const bytes = (text: string) => Buffer.from(text)

describe('syncFiles', () => {
  it('creates the folder and writes every file, nested ones included', () => {
    const dir = folder()
    const files = new Map([
      ['main.js', bytes('main')],
      ['types/index.d.ts', bytes('export {}')],
    ])
    expect(syncFiles(dir, files)).toEqual({ written: ['main.js', 'types/index.d.ts'], removed: [] })
    expect(readTree(dir)).toEqual(files)
  })

  it('leaves a file whose bytes did not change as it was: same inode, same modification time', () => {
    const dir = folder()
    syncFiles(dir, new Map([['main.js', bytes('main')]]))
    const before = statSync(join(dir, 'main.js'))
    expect(syncFiles(dir, new Map([['main.js', bytes('main')]]))).toEqual({ written: [], removed: [] })
    const after = statSync(join(dir, 'main.js'))
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs])
  })

  it('renames a changed file into place: a reader that opened the old one reads it whole', () => {
    const dir = folder()
    const old = 'old bytes '.repeat(1000)
    syncFiles(dir, new Map([['main.js', bytes(old)]]))
    const fd = openSync(join(dir, 'main.js'), 'r')
    try {
      expect(syncFiles(dir, new Map([['main.js', bytes('new')]])).written).toEqual(['main.js'])
      const buffer = Buffer.alloc(old.length)
      expect(readSync(fd, buffer, 0, buffer.length, 0)).toBe(old.length)
      expect(buffer.toString()).toBe(old)
    } finally {
      closeSync(fd)
    }
    expect(readFileSync(join(dir, 'main.js'), 'utf8')).toBe('new')
  })

  it("removes files no longer built, but never another build's file in flight", () => {
    const dir = folder()
    syncFiles(
      dir,
      new Map([
        ['chunk-OLD.js', bytes('old chunk')],
        ['main.js', bytes('main')],
      ]),
    )
    mkdirSync(join(dir, 'types'))
    writeFileSync(join(dir, 'types', 'gone.d.ts'), 'export {}')
    writeFileSync(join(dir, 'main.js.pending-4242'), 'being written by another build')
    const result = syncFiles(
      dir,
      new Map([
        ['chunk-NEW.js', bytes('new chunk')],
        ['main.js', bytes('main')],
      ]),
    )
    expect(result).toEqual({ written: ['chunk-NEW.js'], removed: ['chunk-OLD.js', 'types/gone.d.ts'] })
    expect(existsSync(join(dir, 'main.js.pending-4242'))).toBe(true)
    expect([...readTree(dir).keys()].sort()).toEqual(['chunk-NEW.js', 'main.js', 'main.js.pending-4242'])
  })
})
