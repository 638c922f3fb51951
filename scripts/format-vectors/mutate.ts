/** Helpers of the case files: case types and `bad`, which makes an invalid case from a valid document. */

/** A valid document, or an invalid one with the pointer its first issue must carry. */
export type Valid = { name: string; value: unknown }
export type Invalid = { name: string; value: unknown; pointer: string }

/** Marks a key for removal in `mutate`. */
export const REMOVE = Symbol('remove')

/** A deep copy of `doc` with the value at RFC 6901 `pointer` replaced (or removed, or added). */
export function mutate(doc: unknown, pointer: string, value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(doc)) as unknown // not structuredClone: it keeps shared sub-objects shared
  const keys = pointer
    .split('/')
    .slice(1)
    .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'))
  let node = copy as Record<string, unknown>
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>
  const last = keys.at(-1)!
  if (value === REMOVE) delete node[last]
  else if (last === '-' && Array.isArray(node)) node.push(value)
  else node[last] = value
  return copy
}

/** An invalid case: `at` is where the mistake is made, `pointer` where zod reports it (default: `at`). */
export const bad = (name: string, base: unknown, at: string, value: unknown, pointer = at): Invalid => ({
  name,
  value: mutate(base, at, value),
  pointer,
})

/** The cases of one format: its schema, documents that must validate and mistakes that must not. */
export type Cases = { schema: { safeParse(v: unknown): unknown }; valid: Valid[]; invalid: Invalid[] }
