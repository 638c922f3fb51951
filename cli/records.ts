import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { parse } from 'csv-parse/sync'
import { EdgefleetError } from '../core/errors.ts'
import { columnNames } from '../core/profile/infer.ts'

/** Tabular data read from a file: its rows and its columns in file order. */
export interface Dataset {
  /** The path as the user gave it, for messages. */
  file: string
  columns: string[]
  records: Record<string, unknown>[]
}

// A plain decimal number. Integers with leading zeros ("007", "02134") stay strings: they are codes.
const NUMBER = /^[-+]?(?:(?:0|[1-9]\d*)(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/

/**
 * Reads a data file by extension: `.json` (an array of objects), `.jsonl`/`.ndjson` (one object per
 * line), anything else CSV with a header row (`.tsv`: tab-separated). CSV fields that are plain
 * decimal numbers become numbers and empty fields null. Every failure is an EdgefleetError whose
 * message names the file, and the row where there is one: `seattle.csv: row 12 (line 13): …`.
 */
export async function readRecords(file: string): Promise<Dataset> {
  // Editors on Windows prefix UTF-8 with a BOM; JSON.parse rejects it (csv-parse strips it itself).
  return parseRecords(await readText(file), file, extname(file))
}

/**
 * Parses data text as `readRecords` does, by the extension given (`.json`, `.jsonl`/`.ndjson`, `.tsv`,
 * else CSV); `name` names the data in messages (a file, a URL, a command).
 */
export function parseRecords(text: string, name: string, extension: string): Dataset {
  const clean = text.replace(/^\uFEFF/, '')
  const ext = extension.toLowerCase()
  const dataset =
    ext === '.json'
      ? parseJsonArray(clean, name)
      : ext === '.jsonl' || ext === '.ndjson'
        ? parseJsonLines(clean, name)
        : parseCsv(clean, name, ext === '.tsv' ? '\t' : ',')
  if (dataset.records.length === 0) throw new EdgefleetError('empty_data', `${name}: no data rows`)
  return dataset
}

/** Parses CSV text with a header row (see `readRecords`). */
export function parseCsv(text: string, file: string, delimiter = ','): Dataset {
  let rows: string[][]
  try {
    // Rows as arrays, cast here: csv-parse's `columns` + `cast` hooks cost ~5× the parse itself.
    rows = parse(text, { bom: true, delimiter, skip_empty_lines: true }) as string[][]
  } catch (e) {
    const err = e as { message?: string; lines?: number; records?: number }
    // `records` counts the rows parsed before the failing one, header included: the failing data row's number.
    const where =
      typeof err.records === 'number' && typeof err.lines === 'number' ? `row ${err.records} (line ${err.lines}): ` : ''
    // csv-parse ends its messages with "on line N", which `where` already says.
    const message = oneLine(err.message ?? String(e)).replace(/ (?:on|at) line \d+$/, '')
    throw new EdgefleetError('parse_error', `${file}: ${where}${message}`, { cause: e })
  }
  if (rows.length === 0) throw new EdgefleetError('empty_data', `${file}: empty file (no header row)`)
  const columns = checkHeader(
    rows[0].map((h) => h.trim()),
    file,
  )
  const records = new Array<Record<string, unknown>>(rows.length - 1)
  for (let i = 1; i < rows.length; i++) {
    const row = rows[i]
    const record: Record<string, unknown> = {}
    for (let j = 0; j < columns.length; j++) record[columns[j]] = castField(row[j])
    records[i - 1] = record
  }
  return { file, columns, records }
}

/** Parses a JSON array of flat objects. */
export function parseJsonArray(text: string, file: string): Dataset {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    throw new EdgefleetError(
      'parse_error',
      `${file}: invalid JSON${jsonErrorLine(text, e)}: ${oneLine((e as Error).message)}`,
      { cause: e },
    )
  }
  if (!Array.isArray(data))
    throw new EdgefleetError('parse_error', `${file}: expected a JSON array of objects, got ${describe(data)}`)
  data.forEach((row: unknown, i) => checkObject(row, file, `row ${i + 1}`))
  return { file, columns: columnNames(data as Record<string, unknown>[]), records: data as Record<string, unknown>[] }
}

/** Parses JSON Lines: one object per non-blank line. */
export function parseJsonLines(text: string, file: string): Dataset {
  const records: Record<string, unknown>[] = []
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return
    let row: unknown
    try {
      row = JSON.parse(line)
    } catch (e) {
      throw new EdgefleetError(
        'parse_error',
        `${file}: line ${i + 1}: invalid JSON: ${oneLine((e as Error).message)}`,
        { cause: e },
      )
    }
    records.push(checkObject(row, file, `line ${i + 1}`))
  })
  return { file, columns: columnNames(records), records }
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new EdgefleetError('not_found', `${file}: no such file`)
    if (code === 'EISDIR') throw new EdgefleetError('bad_request', `${file}: is a directory, not a data file`)
    throw new EdgefleetError('bad_request', `${file}: cannot read (${code ?? (e as Error).message})`, { cause: e })
  }
}

function checkHeader(header: string[], file: string): string[] {
  const seen = new Set<string>()
  header.forEach((name, i) => {
    if (name === '') throw new EdgefleetError('parse_error', `${file}: header: column ${i + 1} has no name`)
    if (seen.has(name)) throw new EdgefleetError('parse_error', `${file}: header: column "${name}" appears twice`)
    seen.add(name)
  })
  return header
}

function castField(raw: string): unknown {
  const value = raw.trim()
  if (value === '') return null
  if (NUMBER.test(value)) {
    const x = Number(value)
    if (Number.isFinite(x)) return x
  }
  return value
}

function checkObject(row: unknown, file: string, where: string): Record<string, unknown> {
  if (typeof row !== 'object' || row === null || Array.isArray(row))
    throw new EdgefleetError('parse_error', `${file}: ${where}: expected an object, got ${describe(row)}`)
  return row as Record<string, unknown>
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`
}

/** Error text on one line: V8 quotes the offending JSON, newlines and all. */
function oneLine(message: string): string {
  return message.replace(/\s+/g, ' ').trim()
}

/** " at line N" from a JSON.parse error's character position (Node 20 reports only the position). */
function jsonErrorLine(text: string, e: unknown): string {
  const m = /position (\d+)/.exec((e as Error).message)
  if (m === null) return ''
  const line = text.slice(0, Number(m[1])).split('\n').length
  return ` at line ${line}`
}
