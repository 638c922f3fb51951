/**
 * @module
 * Untrusted `sketch/1` objects (from devices, storage or files) become sketches only through the format's
 * schema, which checks every invariant between the fields; a bad one is `validation_failed` with a pointer.
 */
import { EdgefleetError } from '../errors.ts'
import { SketchJson } from '../formats/sketch.ts'
import { jsonPointer } from '../json-pointer.ts'
import { DDSketch } from './DDSketch.ts'

/** Decodes a `sketch/1` object (already parsed from JSON); throws `validation_failed` with a pointer. */
export function parseSketch(json: unknown): DDSketch {
  const parsed = SketchJson.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const pointer = issue === undefined ? '' : jsonPointer(issue.path)
    throw new EdgefleetError(
      'validation_failed',
      `invalid sketch/1: ${issue?.message ?? 'malformed'}${pointer === '' ? '' : ` at ${pointer}`}`,
      { pointer, cause: parsed.error },
    )
  }
  return DDSketch.fromValid(parsed.data)
}
