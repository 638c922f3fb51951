import { Command } from 'commander'
import { clientOf, edgeAction, withConnection, type ConnectionFlags } from '../connection.ts'
import type { Io } from '../io.ts'
import { formatJson } from '../json.ts'
import { versionArgument } from '../registry-args.ts'

/** `edgefleet alias <model> <alias> <version>`: points an alias (production, staging, …) at a version. */
export function aliasCommand(io: Io): Command {
  return withConnection(
    new Command('alias')
      .description('point an alias (production, staging, …) at a version')
      .argument('<model>', 'the model')
      .argument('<alias>', 'the alias: a slug of [a-z0-9-]')
      .argument('<version>', 'the version, e.g. 3 or v3', versionArgument),
  ).action(
    edgeAction(async (model: string, alias: string, version: number, flags: ConnectionFlags) => {
      const move = await clientOf(flags).moveAlias(model, alias, version)
      if (flags.json === true) return io.out(`${formatJson(move)}\n`)
      const was =
        move.previous === null ? 'new alias' : move.previous === move.version ? 'unchanged' : `was v${move.previous}`
      io.out(`${move.model} ${move.alias} → v${move.version} (${was})\n`)
    }),
  )
}

/** `edgefleet deprecate <model> <version>`: marks a version deprecated (no longer assigned or aliased). */
export function deprecateCommand(io: Io): Command {
  return withConnection(
    new Command('deprecate')
      .description('deprecate a version: it can no longer be assigned or aliased (move its aliases first)')
      .argument('<model>', 'the model')
      .argument('<version>', 'the version, e.g. 3 or v3', versionArgument),
  ).action(
    edgeAction(async (model: string, version: number, flags: ConnectionFlags) => {
      const manifest = await clientOf(flags).deprecateVersion(model, version)
      io.out(flags.json === true ? `${formatJson(manifest)}\n` : `deprecated ${manifest.model} v${manifest.version}\n`)
    }),
  )
}
