/**
 * @module
 * The SDK's small assignment check against the golden vectors of the full schema: every valid
 * assignment passes as it is, and every invalid one is refused at the field the schema names.
 */
import { describe, expect, it } from 'vitest'
import { readAssignment } from '../../client/assignment-check.ts'
import invalid from '../vectors/formats/assignment.invalid.json'
import valid from '../vectors/formats/assignment.valid.json'

describe('readAssignment (the SDK checks assignments without the schema library)', () => {
  it.each(valid.map((c) => [c.name, c.value] as const))('accepts %s unchanged', (_name, value) => {
    expect(readAssignment(structuredClone(value))).toEqual(value)
  })

  it.each(invalid.map((c) => [c.name, c.value, c.pointer] as const))('refuses %s at %s', (_name, value, pointer) => {
    let caught: unknown
    try {
      readAssignment(value)
    } catch (e) {
      caught = e
    }
    expect(caught).toMatchObject({ code: 'validation_failed' })
    // The SDK names the field it cannot act on: the schema's pointer or one of its parents.
    const at = (caught as { pointer: string }).pointer
    expect(pointer === at || pointer.startsWith(`${at}/`)).toBe(true)
  })
})
