import { Command } from 'commander'
import { fileURLToPath } from 'node:url'
import { EdgefleetError } from '../../core/errors.ts'
import { allRuntimeFiles } from '../../core/runtime-files.ts'
import { clientOf, edgeAction, withConnection, type ConnectionFlags } from '../connection.ts'
import type { Io } from '../io.ts'
import { uploadGzipCopy } from '../encodings.ts'
import { fileStream, hashFile } from '../model-files.ts'
import { formatBytes } from '../units.ts'

const nodeModules = fileURLToPath(new URL('../../node_modules/', import.meta.url))

/**
 * `edgefleet runtime push`: uploads the engine runtime files the SDK is pinned to (onnxruntime-web's
 * and tfjs-backend-wasm's .wasm/.mjs) as artifacts, so devices fetch them from the edge by hash and
 * cache them like model files. Files already stored are skipped; a local file that does not match
 * its pin is refused.
 */
export function runtimeCommand(io: Io): Command {
  const runtime = new Command('runtime').description(
    'engine runtime files the SDK downloads (onnxruntime-web, tfjs wasm)',
  )
  runtime.addCommand(
    withConnection(
      new Command('push').description('upload the pinned runtime files to the edge (skips those already stored)'),
    ).action(
      edgeAction(async (flags: ConnectionFlags) => {
        const client = clientOf(flags)
        let uploaded = 0
        let bytes = 0
        for (const pin of allRuntimeFiles()) {
          if (await client.hasArtifact(pin.sha256)) continue
          const file = `${nodeModules}${pin.path}`
          const local = await hashFile(file)
          if (local.sha256 !== pin.sha256 || local.size !== pin.size)
            throw new EdgefleetError(
              'integrity_error',
              `${file} is not the pinned file (run node scripts/pin-runtime.mjs after upgrading engines)`,
            )
          await client.putArtifact(
            pin.sha256,
            pin.size,
            fileStream(file, () => undefined),
          )
          const gzipped = await uploadGzipCopy(client, { source: file, sha256: pin.sha256, size: pin.size })
          uploaded++
          bytes += pin.size
          if (flags.json !== true)
            io.err(
              `uploaded ${pin.path} (${formatBytes(pin.size)}${gzipped === null ? '' : `; gzip copy ${formatBytes(gzipped)}`})\n`,
            )
        }
        const total = allRuntimeFiles().length
        io.out(
          flags.json === true
            ? `${JSON.stringify({ files: total, uploaded, bytes })}\n`
            : `runtime: ${total} files pinned, ${uploaded} uploaded (${formatBytes(bytes)}), ${total - uploaded} already stored\n`,
        )
      }),
    ),
  )
  return runtime
}
