/**
 * @module
 * `edgefleet cohorts get|set|pin|unpin`: a model's allow-list of cohort labels and its cohort pins
 * (docs/rollouts.md, "Cohorts"). A list is checked locally against the wire schema before it is sent.
 */
import { readFile } from 'node:fs/promises'
import { Command } from 'commander'
import { EdgefleetError } from '../../core/errors.ts'
import { CohortAllowList, type CohortsView } from '../../core/formats/cohort.ts'
import { clientOf, edgeAction, withConnection, type ConnectionFlags } from '../connection.ts'
import type { CohortPinMove } from '../edge-client.ts'
import type { Io } from '../io.ts'
import { formatJson } from '../json.ts'
import { checkWith } from '../local-json.ts'
import { versionArgument } from '../registry-args.ts'
import { formatTime } from '../units.ts'

interface SetFlags extends ConnectionFlags {
  name: string
  values?: string
  file?: string
}

/** The labels of `--values a,b` or of a file with one label per line (blank lines and `#` comments skipped). */
async function labelsOf(flags: SetFlags): Promise<string[]> {
  if ((flags.values === undefined) === (flags.file === undefined))
    throw new EdgefleetError('bad_request', 'give exactly one of --values and --file')
  if (flags.values !== undefined)
    return flags.values
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
  let text: string
  try {
    text = await readFile(flags.file!, 'utf8')
  } catch (cause) {
    throw new EdgefleetError('not_found', `${flags.file}: cannot be read`, { cause })
  }
  return text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.startsWith('#'))
}

/** The allow-list as lines: its name and size, the first labels, and the pins. */
export function formatCohorts(v: CohortsView): string {
  const shown = v.values.slice(0, 10).join(', ')
  const more = v.values.length > 10 ? `, … (${v.values.length - 10} more)` : ''
  const lines = [
    `${v.model} cohorts: ${v.values.length === 0 ? 'none declared' : `${v.values.length} ${v.name} label${v.values.length === 1 ? '' : 's'}`}`,
    ...(v.values.length ? [`  ${shown}${more}`] : []),
    ...(v.updatedAt === null ? [] : [`updated ${formatTime(v.updatedAt)} by ${v.updatedBy}`]),
    v.pins.length === 0 ? 'pins: none' : 'pins:',
    ...v.pins.map((p) => `  ${p.cohort} → v${p.version} (${formatTime(p.pinnedAt)} by ${p.pinnedBy})`),
  ]
  return `${lines.join('\n')}\n`
}

function formatPin(m: CohortPinMove): string {
  const was = m.previous === null ? 'was unpinned' : m.previous === m.version ? 'unchanged' : `was v${m.previous}`
  return `${m.model} cohort ${m.cohort} → ${m.version === null ? 'unpinned (follows production)' : `v${m.version}`} (${was})\n`
}

/** `edgefleet cohorts …`. */
export function cohortsCommand(io: Io): Command {
  const output = { writeOut: io.out, writeErr: io.err }
  const get = withConnection(
    new Command('get').description("print a model's cohort allow-list and pins").argument('<model>', 'the model'),
  ).action(
    edgeAction(async (model: string, flags: ConnectionFlags) => {
      const view = await clientOf(flags).getCohorts(model)
      io.out(flags.json === true ? `${formatJson(view)}\n` : formatCohorts(view))
    }),
  )
  const set = withConnection(
    new Command('set')
      .description("replace a model's cohort allow-list (admin): at most 10,000 unique labels of [A-Za-z0-9_.:-]{1,64}")
      .argument('<model>', 'the model')
      .requiredOption('--name <name>', 'what the labels are: store, region, locale')
      .option('--values <labels>', 'the labels, comma-separated')
      .option('--file <labels.txt>', 'a file with one label per line (# comments allowed)'),
  ).action(
    edgeAction(async (model: string, flags: SetFlags) => {
      const body = checkWith(CohortAllowList, { name: flags.name, values: await labelsOf(flags) }, 'cohorts')
      const view = await clientOf(flags).putCohorts(model, body)
      io.out(flags.json === true ? `${formatJson(view)}\n` : formatCohorts(view))
    }),
  )
  const pin = withConnection(
    new Command('pin')
      .description('hold a cohort on a version whatever production moves to; it takes part in no rollout (admin)')
      .argument('<model>', 'the model')
      .argument('<cohort>', 'a label of the allow-list')
      .argument('<version>', 'the version, e.g. 3 or v3', versionArgument),
  ).action(
    edgeAction(async (model: string, cohort: string, version: number, flags: ConnectionFlags) => {
      const move = await clientOf(flags).pinCohort(model, cohort, version)
      io.out(flags.json === true ? `${formatJson(move)}\n` : formatPin(move))
    }),
  )
  const unpin = withConnection(
    new Command('unpin')
      .description("remove a cohort's pin: it follows production and rollouts again (admin)")
      .argument('<model>', 'the model')
      .argument('<cohort>', 'a label of the allow-list'),
  ).action(
    edgeAction(async (model: string, cohort: string, flags: ConnectionFlags) => {
      const move = await clientOf(flags).unpinCohort(model, cohort)
      io.out(flags.json === true ? `${formatJson(move)}\n` : formatPin(move))
    }),
  )
  const cohorts = new Command('cohorts').description("a model's cohort allow-list and cohort pins")
  // Subcommands added with addCommand do not inherit the parent's settings, so each gets them here.
  for (const sub of [get, set, pin, unpin]) cohorts.addCommand(sub.exitOverride().configureOutput(output))
  return cohorts
}
