/**
 * Writes test/vectors/formats/: per wire format, `<format>.valid.json` (`[{name, value, parsed?}]`, where
 * `parsed` is the schema's output when defaults fill fields, absent when it equals `value`) and
 * `<format>.invalid.json` (`[{name, value, pointer}]`, the RFC 6901 pointer of the first zod issue), plus
 * `report.typical.json`, a 20-feature telemetry report for the "≤ 2 KB on the wire" check.
 *
 * Run with `npx tsx scripts/make-format-vectors.ts`. It refuses to write a case the schemas disagree with,
 * so a vector file always states what the schemas did when it was made. The vectors pin the formats:
 * regenerate only for a new format version (keep the old files) or a deliberate schema fix.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import { Report } from '../core/formats/index.ts'
import { CORE_CASES } from './format-vectors/core-cases.ts'
import { DEVICE_CASES } from './format-vectors/device-cases.ts'
import { REGISTRY_CASES } from './format-vectors/registry-cases.ts'
import { typicalReport } from './format-vectors/documents.ts'

type Issue = { path: PropertyKey[]; message: string }
type Result = { success: true; data: unknown } | { success: false; error: { issues: Issue[] } }

const FORMATS = { ...CORE_CASES, ...DEVICE_CASES, ...REGISTRY_CASES }
const dir = new URL('../test/vectors/formats/', import.meta.url)
mkdirSync(dir, { recursive: true })

/** RFC 6901 pointer of a zod issue path, as the edge reports it. */
const pointerOf = (path: PropertyKey[]) =>
  path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v))

/** JSON with two-space indentation, keeping any value that fits in 100 columns on one line. */
function pretty(v: unknown, indent = ''): string {
  const inline = JSON.stringify(v, null, 1)
    .replace(/\n\s*/g, ' ')
    .replace(/([[{]) /g, '$1')
    .replace(/ ([\]}])/g, '$1')
  const primitives = Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')
  if (v === null || typeof v !== 'object' || primitives || indent.length + inline.length <= 100)
    return primitives ? `[${v.map((x) => JSON.stringify(x)).join(', ')}]` : inline
  const inner = `${indent}  `
  const items = Array.isArray(v)
    ? v.map((x) => inner + pretty(x, inner))
    : Object.entries(v).map(([k, x]) => `${inner}${JSON.stringify(k)}: ${pretty(x, inner)}`)
  return Array.isArray(v) ? `[\n${items.join(',\n')}\n${indent}]` : `{\n${items.join(',\n')}\n${indent}}`
}

function write(file: string, doc: unknown): void {
  const text = `${pretty(doc)}\n`
  if (!isDeepStrictEqual(JSON.parse(text), plain(doc))) throw new Error(`${file}: pretty-printing changed the document`)
  writeFileSync(new URL(file, dir), text)
}

let cases = 0
for (const [format, { schema, valid, invalid }] of Object.entries(FORMATS)) {
  const validOut = valid.map(({ name, value }) => {
    const r = schema.safeParse(value) as Result
    if (!r.success)
      throw new Error(
        `${format} "${name}" must be valid: ${pointerOf(r.error.issues[0]!.path)} ${r.error.issues[0]!.message}`,
      )
    const parsed = plain(r.data)
    return isDeepStrictEqual(parsed, plain(value)) ? { name, value } : { name, value, parsed }
  })
  const invalidOut = invalid.map(({ name, value, pointer }) => {
    const r = schema.safeParse(value) as Result
    if (r.success) throw new Error(`${format} "${name}" must be rejected`)
    const got = pointerOf(r.error.issues[0]!.path)
    if (got !== pointer)
      throw new Error(
        `${format} "${name}": first issue at "${got}" (${r.error.issues[0]!.message}), expected "${pointer}"`,
      )
    return { name, value, pointer }
  })
  write(`${format}.valid.json`, validOut)
  write(`${format}.invalid.json`, invalidOut)
  cases += valid.length + invalid.length
}

const typical = typicalReport()
const parsed = Report.safeParse(typical)
if (!parsed.success) throw new Error(`typical report must be valid: ${parsed.error.message}`)
const bytes = new TextEncoder().encode(JSON.stringify(typical)).length
write('report.typical.json', {
  about:
    'A typical telemetry/1 report: 20 numeric features on 20 bins, one class output, 60 inferences in one minute. DESIGN: ≤ 2 KB on the wire.',
  value: typical,
})
console.log(
  `wrote ${Object.keys(FORMATS).length} formats (${cases} cases) and a ${bytes}-byte typical report to ${dir.pathname}`,
)
