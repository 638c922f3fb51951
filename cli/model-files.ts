import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { basename, dirname, join, posix } from 'node:path'
import { Readable } from 'node:stream'
import { EdgefleetError } from '../core/errors.ts'
import { FilePath, type ModelFormat } from '../core/formats/common.ts'
import { checkWith } from './local-json.ts'

/** A file to publish: its path inside the version and where it is on disk. */
export interface LocalFile {
  path: string
  source: string
}

/** The files a publish sends, and the tfjs format their model.json declares (if any). */
export interface ModelFiles {
  files: LocalFile[]
  tfjsFormat: 'tfjs-graph' | 'tfjs-layers' | null
}

interface TfjsModelJson {
  format?: unknown
  modelTopology?: { node?: unknown; class_name?: unknown; model_config?: unknown }
  weightsManifest?: { paths?: unknown }[]
}

/**
 * Expands publish arguments into version files. A folder is a tfjs model: its `model.json` and every
 * weight shard `weightsManifest[].paths` lists, at their paths relative to the folder. A `.json` file
 * that is a tfjs model (named `model.json`, or holding a `weightsManifest`) does the same from its
 * folder and is published as `model.json`. Any other file (`.onnx`, `.onnx.data`, labels) goes under
 * its basename.
 */
export async function resolveModelFiles(args: readonly string[]): Promise<ModelFiles> {
  const files: LocalFile[] = []
  let tfjsFormat: ModelFiles['tfjsFormat'] = null
  let tfjsSource: string | null = null
  for (const arg of args) {
    const info = await statOf(arg)
    const isDir = info.isDirectory()
    const modelJson = isDir ? join(arg, 'model.json') : arg
    const json =
      isDir || basename(arg) === 'model.json'
        ? await readTfjs(modelJson, true)
        : arg.toLowerCase().endsWith('.json')
          ? await readTfjs(arg, false)
          : null
    if (json === null) {
      files.push({ path: checkWith(FilePath, basename(arg), arg), source: arg })
      continue
    }
    if (tfjsSource !== null)
      throw new EdgefleetError(
        'bad_request',
        `${modelJson}: a version holds one tfjs model (already have ${tfjsSource})`,
      )
    tfjsSource = modelJson
    tfjsFormat = tfjsFormatOf(json)
    files.push({ path: 'model.json', source: modelJson }, ...shardsOf(json, modelJson))
  }
  const seen = new Map<string, string>()
  for (const f of files) {
    const other = seen.get(f.path)
    if (other !== undefined)
      throw new EdgefleetError('bad_request', `${f.source} and ${other} would both be published as ${f.path}`)
    seen.set(f.path, f.source)
  }
  return { files, tfjsFormat }
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
  if (Array.isArray(manifest)) return json as TfjsModelJson
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
