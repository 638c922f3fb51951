/**
 * @module
 * The polling retrainer's place in `GET /v1/events`: a cursor persisted to a file, written atomically
 * (temporary file then rename) after each handled event, so a restart resumes after the last one.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { EdgefleetError } from '../../core/errors.ts'

/** The cursor stored at `path`, or undefined when the file does not exist yet (start from the beginning). */
export async function readCursor(path: string): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new EdgefleetError('bad_request', `${path}: cannot read the cursor (${(e as Error).message})`)
  }
  const cursor = text.trim()
  if (!/^[0-9A-Za-z_-]{1,64}$/.test(cursor))
    throw new EdgefleetError('parse_error', `${path}: not an event cursor: ${JSON.stringify(cursor.slice(0, 40))}`)
  return cursor
}

/** Stores `cursor` at `path` atomically, creating its folder when missing. */
export async function writeCursor(path: string, cursor: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await mkdir(dirname(path), { recursive: true })
  await writeFile(tmp, `${cursor}\n`)
  await rename(tmp, path)
}
