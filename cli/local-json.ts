import { readFile } from 'node:fs/promises'
import type * as z from 'zod'
import { EdgefleetError } from '../core/errors.ts'
import { jsonPointer } from '../core/json-pointer.ts'

/**
 * Validates `value` against a core schema; the first problem becomes a `validation_failed` error that
 * names `label` (a file, a flag) and carries the JSON pointer of the field.
 */
export function checkWith<S extends z.ZodType>(schema: S, value: unknown, label: string): z.output<S> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  const pointer = jsonPointer(issue.path)
  throw new EdgefleetError(
    'validation_failed',
    `${label}: ${pointer === '' ? '' : `${pointer.slice(1)}: `}${issue.message}`,
    { pointer },
  )
}

/** Reads and parses a JSON file; a missing file or bad JSON is one error naming the file. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new EdgefleetError(
      code === 'ENOENT' ? 'not_found' : 'bad_request',
      `${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? (e as Error).message})`}`,
      { cause: e },
    )
  }
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new EdgefleetError('parse_error', `${file}: invalid JSON: ${(e as Error).message}`, { cause: e })
  }
}

/** Reads a JSON file and validates it against a core schema (see `checkWith`). */
export async function readJsonWith<S extends z.ZodType>(schema: S, file: string): Promise<z.output<S>> {
  return checkWith(schema, await readJsonFile(file), file)
}
