import { Command, Option } from 'commander'
import { EdgefleetError, isEdgefleetError } from '../../core/errors.ts'
import { ModelFormat, ModelName } from '../../core/formats/common.ts'
import { Profile } from '../../core/formats/profile.ts'
import { Slug, type Lineage, type Manifest, type PublishVersion } from '../../core/formats/registry.ts'
import { Signature } from '../../core/formats/signature.ts'
import { Variants } from '../../core/formats/variants.ts'
import { profileMatchesSignature } from '../../core/registry/checks.ts'
import { interfaceChanges } from '../../core/registry/interface.ts'
import { versionFilesProblem } from '../../core/variants/checks.ts'
import { clientOf, edgeAction, withConnection, type ConnectionFlags } from '../connection.ts'
import type { AliasMove, EdgeClient, ModelDetail } from '../edge-client.ts'
import { processIo, type Io } from '../io.ts'
import { uploadGzipCopy } from '../encodings.ts'
import { formatJson } from '../json.ts'
import { checkWith, readJsonWith } from '../local-json.ts'
import { fileStream, hashFile, resolveModelFiles, type ModelFiles } from '../model-files.ts'
import { intOption } from '../options.ts'
import { signBundle } from '../../core/signing/bundle.ts'
import { readPrivateKey } from '../signing-keys.ts'
import { metricOption } from '../registry-args.ts'
import { count, formatBytes } from '../units.ts'
import { createUploadProgress } from '../upload-progress.ts'
import { DEFAULT_MULTIPART_ABOVE, DEFAULT_PART_BYTES, uploadInParts } from '../multipart-upload.ts'
import { MAX_PART_BYTES, MIN_PART_BYTES } from '../../core/formats/artifact-uploads.ts'

/** What `publish` takes; `triggerEvent` and `runId` are set by the retrainer (lineage). */
export interface PublishFlags extends ConnectionFlags {
  format?: ModelFormat
  task?: string
  description?: string
  profile?: string
  signature?: string
  /** A JSON file of the version's variants (docs/variants.md). */
  variants?: string
  parent?: number
  dataHash?: string
  codeCommit?: string
  metric?: Record<string, number>
  alias?: string
  allowInterfaceChange?: boolean
  sign?: string
  triggerEvent?: string
  runId?: string
  /** Files above this many bytes are uploaded in parts (default `DEFAULT_MULTIPART_ABOVE`). */
  multipartAbove?: number
  /** Size of each part but the last (default `DEFAULT_PART_BYTES`). */
  partSize?: number
}

/** What a publish did: the new version, how many artifacts it sent or found stored, and any alias move. */
export interface PublishResult {
  manifest: Manifest
  uploaded: number
  skipped: number
  /** Files of a Hugging Face folder left out of the version (transformers.js never reads them). */
  leftOut: string[]
  alias: AliasMove | null
}

/**
 * `edgefleet publish <model> <file...>`: uploads the files the edge does not hold yet (content-addressed,
 * streamed from disk), publishes them as the model's next version, and optionally moves an alias.
 * The bar goes to `tty` when it is a terminal; in-process callers pass null.
 */
export function publishCommand(
  io: Io,
  tty: NodeJS.WriteStream | null = io === processIo ? process.stderr : null,
): Command {
  return withConnection(
    new Command('publish')
      .description(
        "publish files as a model's next version (creates the model if needed; uploads only what the edge lacks)",
      )
      .argument('<model>', 'the model: a slug of [a-z0-9-]')
      .argument(
        '<file...>',
        'an .onnx file; a tfjs model folder or its model.json (its weight shards come along); a Hugging Face model folder (config.json, tokenizer, onnx/); other files by name',
      )
      .addOption(new Option('--format <format>', 'model format (default: from the files)').choices(ModelFormat.options))
      .option('--task <task>', 'task of a new model, e.g. classification (default generic)')
      .option('--description <text>', 'description of a new model')
      .option('--profile <file>', 'reference profile (profile/1 JSON, from `edgefleet profile`)')
      .option('--signature <file>', 'signature JSON: tabular features or tensors')
      .option(
        '--variants <file>',
        'variants JSON: [{name, files, requires?}], builds picked per device; first fit wins, the last is the default',
      )
      .option('--parent <version>', 'lineage: the version this one derives from', intOption(1, Number.MAX_SAFE_INTEGER))
      .option('--data-hash <hash>', 'lineage: hash of the training data')
      .option('--code-commit <commit>', 'lineage: commit of the training code')
      .option('--metric <name=value>', 'an evaluation metric (repeatable)', metricOption)
      .option('--alias <alias>', 'then point this alias (e.g. production) at the new version')
      .option('--sign <key.pem>', 'sign the files with this private key (OpenSSF model signing, ECDSA P-256)')
      .option(
        '--multipart-above <bytes>',
        `upload files larger than this in parts, resumable by running the command again (default ${DEFAULT_MULTIPART_ABOVE})`,
        intOption(1, MAX_PART_BYTES),
      )
      .option(
        '--part-size <bytes>',
        `size of each part of a multipart upload (default ${DEFAULT_PART_BYTES})`,
        intOption(MIN_PART_BYTES, MAX_PART_BYTES),
      )
      .option(
        '--allow-interface-change',
        "publish even if the inputs, outputs or signature features differ from the latest version's",
      ),
  ).action(
    edgeAction(async (model: string, paths: string[], flags: PublishFlags) => {
      const result = await publishFiles(io, tty, model, paths, flags).catch((e: unknown) => {
        if (isEdgefleetError(e) && e.code === 'forbidden')
          throw new EdgefleetError(e.code, `${e.message} (publishing needs registry:read and registry:write)`, {
            cause: e,
          })
        throw e
      })
      if (flags.json === true) return io.out(`${formatJson(result.manifest)}\n`)
      if (result.leftOut.length > 0)
        io.out(
          `left out ${count(result.leftOut.length, 'file')} transformers.js does not read: ${result.leftOut.join(', ')}\n`,
        )
      const m = result.manifest
      const bytes = m.files.reduce((a, f) => a + f.size, 0)
      io.out(
        `published ${m.model} v${m.version} (${count(m.files.length, 'file')}, ${formatBytes(bytes)}, ${result.uploaded} uploaded, ${result.skipped} already stored)\n`,
      )
      const a = result.alias
      if (a !== null)
        io.out(`${a.model} ${a.alias} → v${a.version}${a.previous === null ? '' : ` (was v${a.previous})`}\n`)
    }),
  )
}

/** Uploads what the edge lacks and publishes the files as the model's next version (creating the model if needed). */
export async function publishFiles(
  io: Io,
  tty: NodeJS.WriteStream | null,
  model: string,
  paths: string[],
  flags: PublishFlags,
): Promise<PublishResult> {
  // Local inputs are checked before the first request; the model and its format before the first upload.
  const name = checkWith(ModelName, model, 'model')
  if (flags.alias !== undefined) checkWith(Slug, flags.alias, '--alias')
  const signature = flags.signature === undefined ? undefined : await readJsonWith(Signature, flags.signature)
  const profile = flags.profile === undefined ? undefined : await readJsonWith(Profile, flags.profile)
  const variants = flags.variants === undefined ? undefined : await readJsonWith(Variants, flags.variants)
  const local = await resolveModelFiles(paths)
  const signingKey = flags.sign === undefined ? undefined : await readPrivateKey(flags.sign)

  const client = clientOf(flags)
  const existing = await findModel(client, name)
  const format = chooseFormat(flags.format, local, existing)
  const fit = versionFilesProblem(format, local.files, variants)
  if (fit !== null)
    throw new EdgefleetError(
      fit.code ?? 'validation_failed',
      variants ? `${flags.variants}: ${fit.message}` : fit.message,
      variants ? { pointer: fit.pointer.replace(/^\/variants/, '') } : {},
    )
  if (profile !== undefined) {
    const problem = profileMatchesSignature(profile, signature ?? existing?.signature ?? null)
    if (problem !== null)
      throw new EdgefleetError('validation_failed', `${flags.profile}: ${problem.message}`, {
        pointer: problem.pointer.replace(/^\/profile/, ''),
      })
  }

  if (existing !== null && flags.allowInterfaceChange !== true) await checkInterface(client, existing, local, signature)

  const files = await mapLimit(local.files, 4, async (f) => ({ ...f, ...(await hashFile(f.source)) }))
  const artifacts = [...new Map(files.map((f) => [f.sha256, f])).values()]
  const stored = await mapLimit(artifacts, 8, (f) => client.hasArtifact(f.sha256))
  const missing = artifacts.filter((_, i) => !stored[i])

  const progress = createUploadProgress(
    io,
    missing.reduce((a, f) => a + f.size, 0),
    tty,
  )
  artifacts.forEach((f, i) => stored[i] && progress.skipped(f.path, f.size))
  let uploaded = 0
  try {
    for (const f of missing) {
      progress.started(f.path, f.size)
      if (f.size > (flags.multipartAbove ?? DEFAULT_MULTIPART_ABOVE)) {
        // No gzip copy of a file this large: it would not fit one request, and weights compress little.
        const parts = await uploadInParts(client, f, {
          partBytes: flags.partSize,
          onBytes: (n) => progress.sent(n),
        })
        if (parts.resumed > 0)
          io.err(
            `resumed         ${f.path}: ${parts.resumed} of ${parts.resumed + parts.sent} parts were on the edge\n`,
          )
        if (parts.stored) progress.skipped(f.path, f.size)
        else {
          uploaded++
          progress.finished(f.path, f.size)
        }
        continue
      }
      try {
        await client.putArtifact(
          f.sha256,
          f.size,
          fileStream(f.source, (n) => progress.sent(n)),
        )
      } catch (e) {
        // Stored by someone else since the check: the edge answers without reading the body, which
        // Node's fetch reports as a reset connection.
        if (isEdgefleetError(e) && e.code === 'network_error' && (await client.hasArtifact(f.sha256))) {
          progress.skipped(f.path, f.size)
          continue
        }
        throw e
      }
      uploaded++
      progress.finished(f.path, f.size)
      await uploadGzipCopy(client, f)
    }
  } finally {
    progress.close()
  }

  if (existing === null)
    await createModel(client, { name, format, task: flags.task, description: flags.description, signature })
  const lineage: Lineage = {
    parent: flags.parent,
    dataHash: flags.dataHash,
    codeCommit: flags.codeCommit,
    triggerEvent: flags.triggerEvent,
    runId: flags.runId,
  }
  const sigstoreBundle =
    signingKey === undefined
      ? undefined
      : await signBundle(
          name,
          files.map((f) => ({ name: f.path, digest: f.sha256 })),
          signingKey,
        )
  const body: PublishVersion = {
    files: files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size })),
    ...(sigstoreBundle ? { sigstoreBundle } : {}),
    signature,
    profile,
    metrics: flags.metric ?? {},
    lineage: Object.fromEntries(Object.entries(lineage).filter(([, v]) => v !== undefined)),
    ...(local.interface ? { interface: local.interface } : {}),
    ...(flags.allowInterfaceChange === true ? { allowInterfaceChange: true } : {}),
    ...(variants ? { variants } : {}),
  }
  const manifest = await client.publishVersion(name, body)
  let alias: AliasMove | null = null
  if (flags.alias !== undefined) {
    try {
      alias = await client.moveAlias(name, flags.alias, manifest.version)
    } catch (e) {
      if (!isEdgefleetError(e)) throw e
      throw new EdgefleetError(
        e.code,
        `published ${name} v${manifest.version}, but moving ${flags.alias} failed: ${e.message}`,
        { pointer: e.pointer, cause: e },
      )
    }
  }
  return { manifest, uploaded, skipped: artifacts.length - uploaded, leftOut: local.hf?.skipped ?? [], alias }
}

/**
 * Refuses, before anything is uploaded, a version whose interface breaks the latest one's (the edge
 * checks the same on publish; this only saves the upload).
 */
async function checkInterface(
  client: EdgeClient,
  existing: ModelDetail,
  local: ModelFiles,
  signature: Signature | undefined,
): Promise<void> {
  const latest = existing.versions[0]
  if (latest === undefined) return
  const before = await client.getVersion(existing.name, latest.version)
  const changes = interfaceChanges(
    { interface: before.interface ?? null, signature: before.signature ?? existing.signature },
    { interface: local.interface, signature: signature ?? existing.signature },
  )
  if (changes.length > 0)
    throw new EdgefleetError(
      'interface_mismatch',
      `these files would break the interface of ${existing.name} v${latest.version}: ${changes.join('; ')}. ` +
        'Pass --allow-interface-change once the app is ready for it',
    )
}

/** The model, or null when the edge answers 404 (publish then creates it). */
async function findModel(client: EdgeClient, name: string): Promise<ModelDetail | null> {
  try {
    return await client.getModel(name)
  } catch (e) {
    if (isEdgefleetError(e) && e.code === 'not_found') return null
    throw e
  }
}

async function createModel(client: EdgeClient, body: Parameters<EdgeClient['createModel']>[0]): Promise<void> {
  try {
    await client.createModel(body)
  } catch (e) {
    // Created by someone else since we looked: publishing to it is what the user asked for.
    if (!(isEdgefleetError(e) && e.code === 'conflict')) throw e
  }
}

/** The format from --format, the files (a model.json's `format`, an .onnx file) and the existing model, which must agree. */
function chooseFormat(flag: ModelFormat | undefined, local: ModelFiles, existing: ModelDetail | null): ModelFormat {
  const fromFiles =
    local.hf !== null
      ? 'hf-onnx'
      : (local.tfjsFormat ?? (local.files.some((f) => f.path.toLowerCase().endsWith('.onnx')) ? 'onnx' : null))
  if (flag !== undefined && fromFiles !== null && flag.startsWith('tfjs') && fromFiles !== flag)
    throw new EdgefleetError('validation_failed', `--format ${flag}, but model.json declares a ${fromFiles} model`)
  const format = flag ?? fromFiles ?? existing?.format ?? null
  if (format === null)
    throw new EdgefleetError(
      'bad_request',
      'cannot tell the model format from the files: pass --format onnx|tfjs-layers|tfjs-graph|hf-onnx',
    )
  if (existing !== null && existing.format !== format)
    throw new EdgefleetError(
      'conflict',
      `model "${existing.name}" is ${existing.format}; these files are published as ${format}`,
    )
  return format
}

/** Maps with at most `limit` calls in flight, keeping order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}
