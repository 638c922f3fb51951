/**
 * @module
 * Where the retrainer's labeled data comes from, pluggable: a local CSV/JSON file, an HTTP(S) URL, or
 * a command whose standard output is the data. Each source hands back the exact bytes (hashed into
 * the run and the version's lineage) and the records parsed from them.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { basename, extname } from 'node:path'
import { EdgefleetError } from '../../core/errors.ts'
import { parseRecords, type Dataset } from '../records.ts'

/** A data source as `retrainer.json` (or `--data`) names it; `format` overrides the extension (csv, json, jsonl, tsv). */
export type DataSource =
  | { path: string; format?: string }
  | { url: string; format?: string; headers?: Record<string, string> }
  | { command: string; args?: string[]; format?: string }

/** Data as loaded: its name for people, its SHA-256, and its records. */
export interface LoadedData extends Dataset {
  name: string
  sha256: string
  bytes: number
}

/** Largest data the retrainer reads (a run holds every row in memory). */
export const MAX_DATA_BYTES = 512 * 1024 * 1024

/** `--data` as a source: `http(s)://…` is a URL, anything else a path. */
export function dataSourceOf(text: string): DataSource {
  return /^https?:\/\//i.test(text) ? { url: text } : { path: text }
}

/**
 * Loads a source. Failures are EdgefleetErrors naming the source: a missing file `not_found`, an
 * HTTP answer other than 2xx or an unreachable host `network_error`, a command that exits non-zero
 * `bad_request` with its stderr's last line, unparseable data `parse_error`.
 */
export async function loadData(source: DataSource, fetchImpl: typeof fetch = fetch): Promise<LoadedData> {
  let bytes: Buffer
  let name: string
  let ext: string
  if ('path' in source) {
    name = basename(source.path)
    ext = extname(source.path)
    try {
      bytes = await readFile(source.path)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOENT') throw new EdgefleetError('not_found', `${source.path}: no such file`)
      throw new EdgefleetError('bad_request', `${source.path}: cannot read (${code ?? (e as Error).message})`)
    }
  } else if ('url' in source) {
    name = source.url
    ext = extname(new URL(source.url).pathname)
    let res: Response
    try {
      res = await fetchImpl(source.url, { headers: source.headers, signal: AbortSignal.timeout(120_000) })
    } catch (e) {
      throw new EdgefleetError('network_error', `${source.url}: ${(e as Error).message}`, { cause: e })
    }
    if (!res.ok) throw new EdgefleetError('network_error', `${source.url} answered ${res.status}`)
    bytes = Buffer.from(await res.arrayBuffer())
    if (ext === '' && /json/.test(res.headers.get('content-type') ?? '')) ext = '.json'
  } else {
    name = [source.command, ...(source.args ?? [])].join(' ')
    ext = ''
    bytes = await new Promise<Buffer>((resolve, reject) =>
      execFile(
        source.command,
        source.args ?? [],
        { encoding: 'buffer', maxBuffer: MAX_DATA_BYTES, timeout: 600_000 },
        (error, stdout, stderr) => {
          if (error === null) return resolve(stdout)
          const last = stderr.toString('utf8').trim().split('\n').pop() ?? ''
          reject(new EdgefleetError('bad_request', `data command "${name}" failed: ${last || error.message}`))
        },
      ),
    )
  }
  if (bytes.length > MAX_DATA_BYTES)
    throw new EdgefleetError('too_large', `${name}: ${bytes.length} bytes, more than ${MAX_DATA_BYTES}`)
  if (source.format !== undefined) ext = `.${source.format}`
  const dataset = parseRecords(bytes.toString('utf8'), name, ext)
  return { ...dataset, name, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length }
}
