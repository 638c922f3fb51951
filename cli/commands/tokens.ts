import { Command } from 'commander'
import { CreateToken, type Token } from '../../core/formats/registry.ts'
import { clientOf, edgeAction, withConnection, type ConnectionFlags } from '../connection.ts'
import type { Io } from '../io.ts'
import { formatJson } from '../json.ts'
import { checkWith } from '../local-json.ts'
import { listOption } from '../options.ts'
import { renderTable } from '../table.ts'
import { formatTime } from '../units.ts'

interface CreateFlags extends ConnectionFlags {
  scope: string[]
  origin?: string[]
}

/** `edgefleet tokens create|list|revoke`: scoped API tokens and app keys (scope `device`). */
export function tokensCommand(io: Io): Command {
  const output = { writeOut: io.out, writeErr: io.err }
  const create = withConnection(
    new Command('create')
      .description('create a token and print its secret (shown this once)')
      .argument('<name>', 'who or what uses it (recorded as the actor of its changes)')
      .requiredOption(
        '--scope <scopes>',
        'comma-separated: registry:read, registry:write, rollout:write, telemetry:read, admin, or device (an app key)',
        listOption,
      )
      .option('--origin <origins>', 'browser origins an app key accepts, comma-separated (default any)', listOption),
  ).action(
    edgeAction(async (name: string, flags: CreateFlags) => {
      const body = checkWith(CreateToken, { name, scopes: flags.scope, origins: flags.origin }, 'token')
      const created = await clientOf(flags).createToken(body)
      io.out(flags.json === true ? `${formatJson(created)}\n` : `${created.token}\n`)
      io.err(`created ${created.id} "${created.name}" (${created.scopes.join(', ')})\n`)
      io.err('warning: this is the only time the secret is shown; store it now (e.g. as EDGEFLEET_TOKEN)\n')
    }),
  )
  const list = withConnection(
    new Command('list').description('list tokens, revoked ones included (never their secrets)'),
  ).action(
    edgeAction(async (flags: ConnectionFlags) => {
      const tokens = await clientOf(flags).listTokens()
      io.out(flags.json === true ? `${formatJson(tokens)}\n` : formatTokens(tokens))
    }),
  )
  const revoke = withConnection(
    new Command('revoke').description('revoke a token, effective at once').argument('<id>', 'the token id (tok_…)'),
  ).action(
    edgeAction(async (id: string, flags: ConnectionFlags) => {
      const token = await clientOf(flags).revokeToken(id)
      io.out(flags.json === true ? `${formatJson(token)}\n` : `revoked ${token.id} "${token.name}"\n`)
    }),
  )
  const tokens = new Command('tokens').description('create, list and revoke API tokens and app keys')
  // Subcommands added with addCommand do not inherit the parent's settings, so each gets them here.
  for (const sub of [create, list, revoke]) tokens.addCommand(sub.exitOverride().configureOutput(output))
  return tokens
}

/** The `tokens list` table. */
export function formatTokens(tokens: readonly Token[]): string {
  if (tokens.length === 0) return 'no tokens (the admin token from the environment is not listed)\n'
  const rows = tokens.map((t) => [
    t.id,
    t.name,
    t.scopes.join(','),
    t.origins === null ? '' : t.origins.join(','),
    formatTime(t.createdAt),
    t.lastUsedAt === null ? '-' : formatTime(t.lastUsedAt),
    t.revokedAt === null ? 'active' : `revoked ${formatTime(t.revokedAt)}`,
  ])
  return renderTable(['id', 'name', 'scopes', 'origins', 'created', 'last used', 'status'], rows)
}
