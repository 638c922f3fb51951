import { Command, CommanderError } from 'commander'
import { isEdgefleetError } from '../core/errors.ts'
import pkg from '../package.json' with { type: 'json' }
import { aliasCommand, deprecateCommand } from './commands/aliases.ts'
import { cohortsCommand } from './commands/cohorts.ts'
import { driftCommand } from './commands/drift.ts'
import { eventsCommand } from './commands/events.ts'
import { keysCommand } from './commands/keys.ts'
import { modelsCommand, versionsCommand } from './commands/models.ts'
import { policyCommand } from './commands/policy.ts'
import { profileCommand } from './commands/profile.ts'
import { publishCommand } from './commands/publish.ts'
import { retrainCommand } from './commands/retrain.ts'
import { rolloutCommand } from './commands/rollout.ts'
import { runtimeCommand } from './commands/runtime.ts'
import { sloCommand } from './commands/slo.ts'
import { telemetryCommand } from './commands/telemetry.ts'
import { tokensCommand } from './commands/tokens.ts'
import { verifyCommand } from './commands/verify.ts'
import { validateCommand } from './commands/validate.ts'
import { processIo } from './io.ts'
import type { Io } from './io.ts'

/** Every subcommand: a factory taking the Io. A new command (publish, rollout, …) is one line here. */
const COMMANDS: readonly ((io: Io) => Command)[] = [
  profileCommand,
  driftCommand,
  publishCommand,
  keysCommand,
  verifyCommand,
  modelsCommand,
  versionsCommand,
  aliasCommand,
  deprecateCommand,
  cohortsCommand,
  eventsCommand,
  tokensCommand,
  runtimeCommand,
  telemetryCommand,
  policyCommand,
  sloCommand,
  rolloutCommand,
  retrainCommand,
  validateCommand,
]

/** Exit codes: 0 success, 1 a failure (bad data, missing file, …), 2 a usage error. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

/** The `edgefleet` program with every subcommand registered; it throws instead of exiting. */
export function createProgram(io: Io = processIo): Command {
  const program = new Command('edgefleet')
    .description('MLOps for on-device models: profiles, drift, publishing and rollouts.')
    .version(pkg.version)
    // The program's own options (--version) only before the subcommand, so `telemetry --version 3` is the command's.
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
  for (const make of COMMANDS)
    program.addCommand(make(io).exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err }))
  return program
}

/**
 * Runs the CLI on `argv` (node-style: the first two entries are skipped) and resolves to the exit code.
 * Failures print one line, `edgefleet: <message>`; the stack only with EDGEFLEET_DEBUG=1.
 */
export async function run(argv: readonly string[] = process.argv, io: Io = processIo): Promise<number> {
  try {
    await createProgram(io).parseAsync([...argv])
    return EXIT.ok
  } catch (e) {
    // Commander has already printed its own one-line message (or the help / version text).
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage
    const message = isEdgefleetError(e) ? e.message : `internal error: ${e instanceof Error ? e.message : String(e)}`
    io.err(`edgefleet: ${message.split('\n')[0]}\n`)
    if (process.env.EDGEFLEET_DEBUG === '1' && e instanceof Error) io.err(`${e.stack}\n`)
    return EXIT.failure
  }
}
