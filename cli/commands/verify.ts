import { createHash } from 'node:crypto'
import { Command } from 'commander'
import { EdgefleetError } from '../../core/errors.ts'
import { ModelName } from '../../core/formats/common.ts'
import { trustedKey, verifyBundle } from '../../core/signing/bundle.ts'
import { unsignedFiles } from '../../core/signing/statement.ts'
import { clientOf, edgeAction, withConnection, type ConnectionFlags } from '../connection.ts'
import type { Io } from '../io.ts'
import { formatJson } from '../json.ts'
import { checkWith } from '../local-json.ts'
import { intOption } from '../options.ts'
import { readPublicKey } from '../signing-keys.ts'
import { renderTable } from '../table.ts'
import { formatBytes } from '../units.ts'

interface VerifyFlags extends ConnectionFlags {
  key: string[]
}

/**
 * `edgefleet verify <model> <version> --key pub.pem`: checks a published version as a device given
 * that key would, and more: the bundle verifies with the key and signs every file, and the bytes the
 * edge serves hash to the signed digests. Exit 0 when all hold, 1 otherwise.
 */
export function verifyCommand(io: Io): Command {
  return withConnection(
    new Command('verify')
      .description("check a version's signature with a publisher key, and the bytes the edge serves against it")
      .argument('<model>', 'the model')
      .argument('<version>', 'the version', intOption(1, Number.MAX_SAFE_INTEGER))
      .requiredOption('--key <pub.pem>', 'a trusted public key (PEM; repeatable)', (v: string, prev: string[] = []) => [
        ...prev,
        v,
      ]),
  ).action(
    edgeAction(async (model: string, version: number, flags: VerifyFlags) => {
      const name = checkWith(ModelName, model, 'model')
      const keys = await Promise.all(flags.key.map(async (path) => trustedKey(await readPublicKey(path))))
      const client = clientOf(flags)
      const manifest = await client.getVersion(name, version)
      if (manifest.sigstoreBundle === null)
        throw new EdgefleetError('signature_error', `${name} v${version} is not signed`)
      const statement = await verifyBundle(manifest.sigstoreBundle, keys)
      const problems = unsignedFiles(statement, manifest.files)
      if (problems.length > 0)
        throw new EdgefleetError(
          'signature_error',
          `${name} v${version}: the signature does not cover ${problems.join('; ')}`,
        )
      const files = []
      for (const f of manifest.files) {
        const bytes = await client.getArtifact(f.sha256)
        const sha256 = createHash('sha256').update(bytes).digest('hex')
        files.push({ path: f.path, size: bytes.length, sha256, ok: sha256 === f.sha256 })
      }
      const bad = files.filter((f) => !f.ok)
      const signer = manifest.sigstoreBundle.verificationMaterial.publicKey?.hint ?? null
      if (flags.json === true)
        io.out(`${formatJson({ model: name, version, signedAs: statement.model, keyHint: signer, files })}\n`)
      else {
        io.out(
          renderTable(
            ['file', 'size', 'sha256', 'signed bytes'],
            files.map((f) => [f.path, formatBytes(f.size), `${f.sha256.slice(0, 16)}…`, f.ok ? 'yes' : 'NO']),
          ),
        )
        if (bad.length === 0)
          io.out(
            `${name} v${version}: signed by the key ${signer?.slice(0, 16) ?? '(no hint)'}… over all ${files.length} files; the bytes served are the bytes signed\n`,
          )
      }
      if (bad.length > 0)
        throw new EdgefleetError(
          'signature_error',
          `${name} v${version}: the edge serves other bytes than were signed for ${bad.map((f) => f.path).join(', ')}`,
        )
    }),
  )
}
