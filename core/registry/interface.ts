/**
 * @module
 * Whether a new version can replace an old one without the app changing how it calls the model: the
 * same input and output names, element types and compatible shapes, and (for tabular models) the same
 * features with the same types. Each difference is one readable line.
 */
import type { ModelInterface, InterfaceTensor } from '../formats/interface.ts'
import type { Signature } from '../formats/signature.ts'

type Dim = number | string | null

/** Two dims agree when they are equal sizes, or either is dynamic (a name or null). */
function dimsAgree(a: Dim, b: Dim): boolean {
  return typeof a !== 'number' || typeof b !== 'number' || a === b
}

function shapeText(shape: readonly Dim[] | null): string {
  return shape === null ? 'unknown' : `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`
}

function tensorChanges(kind: 'input' | 'output', before: InterfaceTensor[], after: InterfaceTensor[]): string[] {
  const out: string[] = []
  const next = new Map(after.map((t) => [t.name, t]))
  for (const old of before) {
    const now = next.get(old.name)
    if (!now) {
      out.push(`${kind} ${old.name} is gone`)
      continue
    }
    if (old.dtype !== null && now.dtype !== null && old.dtype !== now.dtype)
      out.push(`${kind} ${old.name}: ${old.dtype} became ${now.dtype}`)
    const compatible =
      old.shape === null ||
      now.shape === null ||
      (old.shape.length === now.shape.length && old.shape.every((d, i) => dimsAgree(d, now.shape![i])))
    if (!compatible) out.push(`${kind} ${old.name}: shape ${shapeText(old.shape)} became ${shapeText(now.shape)}`)
  }
  const known = new Set(before.map((t) => t.name))
  // A new output breaks nothing; a new input is one the app does not send.
  if (kind === 'input') for (const t of after) if (!known.has(t.name)) out.push(`input ${t.name} is new`)
  return out
}

/** The features of a tabular signature by name, with their types. */
function features(s: Signature | null): Map<string, string> | null {
  return s?.kind === 'tabular' ? new Map(s.features.map((f) => [f.name, f.type])) : null
}

/**
 * What breaks between two versions, one line each; empty when the new one is a drop-in replacement.
 *
 * @example interfaceChanges(v1, v2) // ['input x: float32 became int64', 'feature wind is gone']
 */
export function interfaceChanges(
  before: { interface: ModelInterface | null; signature: Signature | null },
  after: { interface: ModelInterface | null; signature: Signature | null },
): string[] {
  const out: string[] = []
  if (before.interface && after.interface)
    out.push(
      ...tensorChanges('input', before.interface.inputs, after.interface.inputs),
      ...tensorChanges('output', before.interface.outputs, after.interface.outputs),
    )
  const [was, now] = [features(before.signature), features(after.signature)]
  if (was && now) {
    for (const [name, type] of was)
      if (!now.has(name)) out.push(`feature ${name} is gone`)
      else if (now.get(name) !== type) out.push(`feature ${name}: ${type} became ${now.get(name)}`)
    for (const name of now.keys()) if (!was.has(name)) out.push(`feature ${name} is new`)
  }
  return out
}
