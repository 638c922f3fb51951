import { Command } from 'commander'
import { edgeAction } from '../connection.ts'
import type { Io } from '../io.ts'
import { formatJson } from '../json.ts'
import { createKeyPair } from '../signing-keys.ts'

/** `edgefleet keys create`: a publisher key pair for signing model versions (`publish --sign`). */
export function keysCommand(io: Io): Command {
  const output = { writeOut: io.out, writeErr: io.err }
  const create = new Command('create')
    .description('create an ECDSA P-256 key pair for signing versions; the private key stays on this machine')
    .option(
      '--out <prefix>',
      'file prefix: writes <prefix>.key.pem (mode 600) and <prefix>.pub.pem',
      'edgefleet-signing',
    )
    .option('--json', 'print the paths and the key hint as JSON')
    .action(
      edgeAction(async (flags: { out: string; json?: boolean }) => {
        const keys = await createKeyPair(flags.out)
        if (flags.json === true) return io.out(`${formatJson(keys)}\n`)
        io.out(
          `private key: ${keys.privatePath} (keep it secret; sign with \`edgefleet publish --sign ${keys.privatePath}\`)\n`,
        )
        io.out(`public key:  ${keys.publicPath} (give it to apps: createFleet({ trustedKeys: [<its PEM text>] }))\n`)
        io.out(`key hint:    ${keys.hint}\n`)
      }),
    )
  const keys = new Command('keys').description('create publisher keys for signed models')
  keys.addCommand(create.exitOverride().configureOutput(output))
  return keys
}
