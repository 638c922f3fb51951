import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir, readFile, realpath, stat } from 'node:fs/promises'
import { basename, dirname, join, posix, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { EdgefleetError } from '../core/errors.ts'
import { FilePath } from '../core/formats/common.ts'
import { hfFileOf } from '../core/registry/hf-layout.ts'
import type { ModelInterface } from '../core/formats/interface.ts'
import { checkWith } from './local-json.ts'
import { onnxInterface, tfjsInterface } from './model-interface.ts'

/** A file to publish: its path inside the version and where it is on disk. */
export interface LocalFile {
  path: string
  source: string
}

/** The files a publish sends, the tfjs format their model.json declares (if any), and the interface the model file declares. */
export interface ModelFiles {
  files: LocalFile[]
  tfjsFormat: 'tfjs-graph' | 'tfjs-layers' | null
  /** Inputs and outputs read from the model file (null when it declares none, or a version holds several .onnx files). */
  interface: ModelInterface | null
  /** A Hugging Face model folder: the files in it transformers.js never reads, left out of the version. */
  hf: { skipped: string[] } | null
}

interface TfjsModelJson {
  format?: unknown
  modelTopology?: { node?: unknown; class_name?: unknown; model_config?: unknown }
  weightsManifest?: { paths?: unknown }[]
}

/**
 * Expands publish arguments into version files. A folder is a tfjs model: its `model.json` (or its one
 * JSON file holding `modelTopology` and `weightsManifest`) and every weight shard `weightsManifest[].paths`
 * lists, at their paths relative to the folder. A `.json` file that is a tfjs model does the same from its
 * folder and is published as `model.json`. Any other file goes under its basename; next to a tfjs model
 * only its own weight shards may be named. The same file named twice (a shell glob over a tfjs folder)
 * is one file; two different files under one path are refused. Every `.onnx` file is parsed, and the
 * model's declared inputs and outputs come back with the files.
 */
export async function resolveModelFiles(args: readonly string[]): Promise<ModelFiles> {
  if (args.length === 1 && (await isHfFolder(args[0]))) return hfFolderFiles(args[0])
  const files: LocalFile[] = []
  let tfjsFormat: ModelFiles['tfjsFormat'] = null
  let tfjs: { source: string; json: TfjsModelJson; shards: Set<string> } | null = null
  for (const arg of args) {
    const info = await statOf(arg)
    const modelJson = info.isDirectory() ? await tfjsJsonIn(arg) : arg
    const json =
      info.isDirectory() || basename(arg) === 'model.json'
        ? await readTfjs(modelJson, true)
        : arg.toLowerCase().endsWith('.json')
          ? await readTfjs(arg, false)
          : null
    if (json === null) {
      files.push({ path: checkWith(FilePath, basename(arg), arg), source: arg })
      continue
    }
    if (tfjs !== null && (await sameFile(tfjs.source, modelJson))) continue
    if (tfjs !== null)
      throw new EdgefleetError(
        'bad_request',
        `${modelJson}: a version holds one tfjs model (already have ${tfjs.source})`,
      )
    tfjsFormat = tfjsFormatOf(json)
    const shards = shardsOf(json, modelJson)
    tfjs = { source: modelJson, json, shards: new Set(shards.map((f) => f.path)) }
    files.push({ path: 'model.json', source: modelJson }, ...shards)
  }
  const unique = await withoutRepeats(files)
  if (tfjs !== null) {
    const known = tfjs.shards
    const stray = unique.filter((f) => f.path !== 'model.json' && !known.has(f.path))
    if (stray.length > 0)
      throw new EdgefleetError(
        'bad_request',
        `${stray.map((f) => f.source).join(', ')}: not listed by ${tfjs.source} (its weightsManifest lists ${[...known].join(', ') || 'no files'}); drop ${stray.length === 1 ? 'it' : 'them'}`,
      )
  }
  return { files: unique, tfjsFormat, interface: await interfaceOf(unique, tfjs?.json ?? null), hf: null }
}

/** True for a folder holding a `config.json` and no tfjs `model.json`: a Hugging Face model folder. */
async function isHfFolder(arg: string): Promise<boolean> {
  const info = await statOf(arg)
  if (!info.isDirectory()) return false
  const names = await readdir(arg)
  return names.includes('config.json') && !names.includes('model.json')
}

/**
 * The files of a Hugging Face model folder (hub layout) transformers.js reads, at their paths in the
 * folder: the root JSON files and `onnx/`'s graphs and external data (core/registry/hf-layout.ts).
 * Anything else (README.md, vocab.txt, PyTorch weights…) is left out and named in `skipped`. The
 * interface is not read: transformers.js feeds the graph by its own input names, per weight type.
 */
async function hfFolderFiles(dir: string): Promise<ModelFiles> {
  const files: LocalFile[] = []
  const skipped: string[] = []
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(join(dir, rel), { withFileTypes: true })) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.')) await walk(path)
      } else if (hfFileOf(path) !== null)
        files.push({ path: checkWith(FilePath, path, join(dir, path)), source: join(dir, path) })
      else if (!entry.name.startsWith('.')) skipped.push(path)
    }
  }
  await walk('')
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  return { files, tfjsFormat: null, interface: null, hf: { skipped: skipped.sort() } }
}

/** Drops a file named again (same file on disk); two different files under one published path are refused. */
async function withoutRepeats(files: LocalFile[]): Promise<LocalFile[]> {
  const seen = new Map<string, LocalFile>()
  const out: LocalFile[] = []
  for (const f of files) {
    const other = seen.get(f.path)
    if (other === undefined) {
      seen.set(f.path, f)
      out.push(f)
    } else if (!(await sameFile(other.source, f.source)))
      throw new EdgefleetError(
        'bad_request',
        `${f.source} and ${other.source} are different files that would both be published as ${f.path}: drop one of them`,
      )
  }
  return out
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([realpath(a).catch(() => resolve(a)), realpath(b).catch(() => resolve(b))])
  return x === y
}

/** The tfjs model JSON of a folder: `model.json`, else its one JSON file with `modelTopology` and `weightsManifest`. */
async function tfjsJsonIn(dir: string): Promise<string> {
  const names = await readdir(dir)
  if (names.includes('model.json')) return join(dir, 'model.json')
  const candidates: string[] = []
  for (const name of names.filter((n) => n.toLowerCase().endsWith('.json'))) {
    const json = await readTfjs(join(dir, name), false).catch(() => null)
    if (json?.modelTopology !== undefined) candidates.push(name)
  }
  if (candidates.length === 1) return join(dir, candidates[0])
  throw new EdgefleetError(
    candidates.length === 0 ? 'not_found' : 'bad_request',
    candidates.length === 0
      ? `${dir}: no tfjs model here (a model.json, or one JSON file with modelTopology and weightsManifest)`
      : `${dir}: several tfjs models (${candidates.join(', ')}): name the one to publish`,
  )
}

/** The interface the version's model file declares; every .onnx file must parse. */
async function interfaceOf(files: LocalFile[], tfjs: TfjsModelJson | null): Promise<ModelInterface | null> {
  if (tfjs !== null) return tfjsInterface(tfjs)
  const onnxFiles = files.filter((f) => f.path.toLowerCase().endsWith('.onnx'))
  const interfaces = await Promise.all(onnxFiles.map((f) => onnxInterface(f.source)))
  return interfaces.length === 1 ? interfaces[0] : null
}

/** SHA-256 (hex) and size of a file, read as a stream: a model of any size never sits in memory whole. */
export async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  try {
    for await (const chunk of createReadStream(file)) {
      hash.update(chunk as Buffer)
      size += (chunk as Buffer).length
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new EdgefleetError('not_found', `${file}: no such file`, { cause: e })
    throw new EdgefleetError('bad_request', `${file}: cannot read (${code ?? (e as Error).message})`, { cause: e })
  }
  return { sha256: hash.digest('hex'), size }
}

/** A file as a web stream for fetch, with a callback per chunk read (for progress). */
export function fileStream(file: string, onBytes: (n: number) => void): ReadableStream<Uint8Array> {
  const counted = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      onBytes(chunk.byteLength)
      controller.enqueue(chunk)
    },
  })
  return (Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>).pipeThrough(counted)
}

async function statOf(file: string) {
  try {
    return await stat(file)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new EdgefleetError(
      code === 'ENOENT' ? 'not_found' : 'bad_request',
      `${file}: ${code === 'ENOENT' ? 'no such file or folder' : `cannot read (${code})`}`,
      { cause: e },
    )
  }
}

/** The parsed model.json, or null when `file` is a plain JSON file (and `required` is false). */
async function readTfjs(file: string, required: boolean): Promise<TfjsModelJson | null> {
  let json: unknown
  try {
    json = JSON.parse(await readFile(file, 'utf8'))
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT')
      throw new EdgefleetError(
        'not_found',
        `${file}: no such file${file.endsWith('model.json') ? ' (a tfjs model folder holds a model.json)' : ''}`,
      )
    if (!required && code === undefined) return null
    throw new EdgefleetError(
      'parse_error',
      `${file}: ${code === undefined ? `invalid JSON: ${(e as Error).message}` : `cannot read (${code})`}`,
      { cause: e },
    )
  }
  const manifest = (json as TfjsModelJson | null)?.weightsManifest
  if (Array.isArray(manifest)) {
    const topology = (json as TfjsModelJson).modelTopology
    if (typeof topology !== 'object' || topology === null || Array.isArray(topology))
      throw new EdgefleetError('validation_failed', `${file}: not a tfjs model (no modelTopology object)`, {
        pointer: '/modelTopology',
      })
    return json as TfjsModelJson
  }
  if (required)
    throw new EdgefleetError('validation_failed', `${file}: not a tfjs model (no weightsManifest array)`, {
      pointer: '/weightsManifest',
    })
  return null
}

function tfjsFormatOf(json: TfjsModelJson): ModelFiles['tfjsFormat'] {
  if (json.format === 'graph-model') return 'tfjs-graph'
  if (json.format === 'layers-model') return 'tfjs-layers'
  if (json.modelTopology?.node !== undefined) return 'tfjs-graph'
  if (json.modelTopology?.class_name !== undefined || json.modelTopology?.model_config !== undefined)
    return 'tfjs-layers'
  return null
}

/** The weight shards model.json lists, relative to its folder; a path leaving the folder is refused. */
function shardsOf(json: TfjsModelJson, modelJson: string): LocalFile[] {
  const dir = dirname(modelJson)
  const out: LocalFile[] = []
  json.weightsManifest!.forEach((group, g) => {
    if (!Array.isArray(group.paths))
      throw new EdgefleetError('validation_failed', `${modelJson}: weightsManifest/${g}/paths is not an array`, {
        pointer: `/weightsManifest/${g}/paths`,
      })
    group.paths.forEach((p: unknown, i) => {
      const pointer = `/weightsManifest/${g}/paths/${i}`
      const path = typeof p === 'string' ? posix.normalize(p) : ''
      const ok = path !== '' && !path.startsWith('../') && path !== '..' && !path.startsWith('/') && !path.includes(':')
      if (!ok)
        throw new EdgefleetError(
          'validation_failed',
          `${modelJson}: weight path ${JSON.stringify(p)} is not a file inside the model's folder`,
          { pointer },
        )
      if (!out.some((f) => f.path === path))
        out.push({ path: checkWith(FilePath, path, `${modelJson} ${pointer}`), source: join(dir, path) })
    })
  })
  return out
}
