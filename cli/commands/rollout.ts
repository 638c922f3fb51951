import { Command, InvalidArgumentError, Option } from 'commander'
import { EdgefleetError, isEdgefleetError } from '../../core/errors.ts'
import { RolloutActionBody, type RolloutView } from '../../core/formats/rollout.ts'
import type { RolloutTransitionAction } from '../../core/rollout/machine.ts'
import { clientOf, edgeAction, withConnection, type ConnectionFlags } from '../connection.ts'
import type { Io } from '../io.ts'
import { formatJson } from '../json.ts'
import { readJsonFile } from '../local-json.ts'
import { intOption } from '../options.ts'
import { versionArgument } from '../registry-args.ts'
import {
  buildRolloutConfig,
  DEFAULT_GUARDRAILS,
  DEFAULT_STEP_MINIMUMS,
  DEFAULT_STEPS,
  type RolloutConfigFlags,
} from '../rollout-config.ts'
import {
  guardOption,
  numberOption,
  rolloutIdOption,
  secondsDurationOption,
  stepsOption,
  targetOption,
} from '../rollout-flags.ts'
import { configOf, formatRolloutState, formatRolloutStatus, stepLabel } from '../rollout-report.ts'

interface StartFlags extends ConnectionFlags, RolloutConfigFlags {
  file?: string
  cohorts?: string
}

interface ActionFlags extends ConnectionFlags {
  id?: string
  /** 1-based, as `status` prints it. */
  expectStep?: number
  reason?: string
}

/** What each operator action does, for its help line. */
const ACTIONS: Record<RolloutTransitionAction, string> = {
  pause: 'stop advancing; the shares stay and guardrails still roll back on a breach',
  resume: "continue a paused rollout; the step's clock restarts",
  advance: 'go to the next step now',
  rollback: "kill switch: the candidate's share to 0 at once",
  promote: 'finish: the candidate becomes production',
}

/** The most steps a rollout has (core's RolloutConfig). */
const MAX_STEPS = 20

const START_HELP = `
Defaults without --file: --mode canary; --steps ${DEFAULT_STEPS.canary.join(',')} (ab: ${DEFAULT_STEPS.ab.join(',')});
every step --min-minutes ${DEFAULT_STEP_MINIMUMS.minMinutes} --min-devices ${DEFAULT_STEP_MINIMUMS.minDevices} --min-inferences ${DEFAULT_STEP_MINIMUMS.minInferences} (per arm);
guardrails ${DEFAULT_GUARDRAILS.map(
  (g) =>
    `${g.metric}:${Object.entries(g)
      .filter(([k]) => k !== 'metric' && k !== 'minDevices')
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}`,
).join(' and ')};
--evaluation 5m, --ttl 30, --alpha 0.05, --shadow-sample-rate 0.2 (core's); --baseline: the production alias.

With --file, the file is the config and each flag given replaces its field: --steps the steps,
--min-* alone that minimum of every step, --guard all guardrails, --target key=… that key.
The candidate argument must match the file's candidate, if it names one.

Guards: error_rate|fallback_rate|shadow_disagreement:(maxDiff|max)=x[,minDevices=n,tau=x],
latency_p95:maxRatio=x, drift_js_max:max=x, accuracy:minRatio=x[,minLabeled=n],
data_quality:maxRate=x[,absolute=true,minRows=n].
Targets: webgpu=true|false, f16=true|false, minDeviceMemory=GiB, platforms=a,b, devices=id1,id2,
cohorts=a,b (labels of the model's cohort allow-list; --cohorts a,b is the same).
--json prints the RolloutView (core/formats/rollout.ts).`

/** `edgefleet rollout start|status|pause|resume|advance|rollback|promote`: staged rollouts of a model's versions. */
export function rolloutCommand(io: Io): Command {
  const output = { writeOut: io.out, writeErr: io.err }
  const print = (view: RolloutView, flags: ConnectionFlags, text: () => string) =>
    io.out(flags.json === true ? `${formatJson(view)}\n` : text())

  const start = withConnection(
    new Command('start')
      .description('start a staged rollout of a candidate version; the config is checked locally before any request')
      .argument('<model>', 'the model')
      .argument('<candidate>', 'the candidate version (7 or v7)', versionArgument)
      .addOption(
        new Option('--mode <mode>', 'how the candidate meets devices (ab: one fixed split)').choices([
          'canary',
          'ab',
          'shadow',
        ]),
      )
      .option('--baseline <version>', 'the version compared against (default: the production alias)', versionArgument)
      .option('--steps <percents>', "the candidate's share at each step, e.g. 1,5,25,50,100", stepsOption)
      .option('--min-minutes <n>', 'minutes each step lasts at least', numberOption)
      .option('--min-devices <n>', 'devices each arm needs in each step', numberOption)
      .option('--min-inferences <n>', 'inferences each arm needs in each step', numberOption)
      .option(
        '--guard <metric:key=value,…>',
        'a guardrail, repeatable: error_rate:maxDiff=0.005, latency_p95:maxRatio=1.2',
        guardOption,
      )
      .option(
        '--target <key=value>',
        'only these devices, repeatable: webgpu=true, platforms=linux,macos, minDeviceMemory=4',
        targetOption,
      )
      .option(
        '--cohorts <labels>',
        "only devices in these cohorts of the model's allow-list (same as --target cohorts=a,b)",
      )
      .option('--evaluation <duration>', 'how often the rollout is judged: 300s, 5m', secondsDurationOption)
      .option('--ttl <seconds>', 'how long devices keep an assignment (at most 60)', numberOption)
      .option('--alpha <alpha>', 'false-rollback rate, split across the rate guardrails', numberOption)
      .option(
        '--shadow-sample-rate <rate>',
        'shadow mode: the share of predictions the candidate also runs',
        numberOption,
      )
      .option('--file <config.json>', 'a whole RolloutConfig; flags given replace its fields'),
  )
    .addHelpText('after', START_HELP)
    .action(
      edgeAction(async (model: string, candidate: number, flags: StartFlags, command: Command) => {
        const file = flags.file === undefined ? undefined : { name: flags.file, value: await readJsonFile(flags.file) }
        if (flags.cohorts !== undefined) {
          try {
            flags.target = targetOption(`cohorts=${flags.cohorts}`, flags.target)
          } catch (e) {
            command.error(`error: --cohorts: ${(e as Error).message}`)
          }
        }
        const built = buildRolloutConfig(candidate, flags, file)
        if ('problem' in built) {
          const p = built.problem
          // A bad flag is a usage error (exit 2), a bad file is bad data (exit 1), as for the other commands.
          if (p.source === 'file')
            throw new EdgefleetError('validation_failed', `${p.file}: ${p.message}`, {
              pointer: p.pointer === '' ? undefined : p.pointer,
            })
          command.error(`error: ${p.flag}: ${p.message}`)
        }
        const view = await clientOf(flags).startRollout(model, built.value)
        print(view, flags, () => formatRolloutStatus(view))
      }),
    )

  const status = withConnection(
    new Command('status')
      .description(
        'report a rollout: state, last decision with per-arm statistics, guardrail verdicts, sample ratio, step progress, timeline',
      )
      .argument('<model>', 'the model')
      .option('--id <id>', 'this rollout (default: the newest)', rolloutIdOption),
  )
    .addHelpText('after', '\n--json prints the RolloutView (core/formats/rollout.ts).')
    .action(
      edgeAction(async (model: string, flags: ConnectionFlags & { id?: string }) => {
        const view = await clientOf(flags).getRollout(model, flags.id ?? 'current')
        print(view, flags, () => formatRolloutStatus(view))
      }),
    )

  const actions = (Object.entries(ACTIONS) as [RolloutTransitionAction, string][]).map(([action, description]) =>
    withConnection(
      new Command(action)
        .description(description)
        .argument('<model>', 'the model')
        .option('--id <id>', 'this rollout (default: the newest, at the step it is at now)', rolloutIdOption)
        .option(
          '--expect-step <n>',
          'act only if the rollout is still at step n (1-based, as status prints it)',
          intOption(1, MAX_STEPS),
        )
        .option('--reason <text>', 'a note for the timeline and the audit trail', reasonOption),
    )
      .addHelpText(
        'after',
        '\nWithout --id, the newest rollout is read first and the action is pinned to its step: if the rollout moves on\nmeanwhile, the edge refuses (409) instead of acting on a step nobody looked at. --json prints the RolloutView.',
      )
      .action(
        edgeAction(async (model: string, flags: ActionFlags) => {
          const client = clientOf(flags)
          let id = flags.id
          let expectStep = flags.expectStep === undefined ? undefined : flags.expectStep - 1
          if (id === undefined) {
            const current = await client.getRollout(model, 'current')
            id = current.id
            expectStep ??= current.step
          }
          const body = {
            ...(expectStep === undefined ? {} : { expectStep }),
            ...(flags.reason === undefined ? {} : { reason: flags.reason }),
          }
          const view = await client
            .actOnRollout(model, id, action, body)
            .catch((e: unknown) => stepConflict(e, () => client.getRollout(model, id), expectStep))
          print(view, flags, () => `${view.model} rollout ${view.id}: ${formatRolloutState(view)}\n`)
        }),
      ),
  )

  const rollout = new Command('rollout').description("start, watch and steer a model's staged rollouts")
  // Subcommands added with addCommand do not inherit the parent's settings, so each gets them here.
  for (const sub of [start, status, ...actions]) rollout.addCommand(sub.exitOverride().configureOutput(output))
  return rollout
}

/** Commander parser for `--reason`: the length the edge accepts. */
function reasonOption(value: string): string {
  const checked = RolloutActionBody.shape.reason.safeParse(value)
  if (!checked.success) throw new InvalidArgumentError('expected a note of 1 to 500 characters')
  return value
}

/**
 * The edge refuses a stale `expectStep` with a 409 on `/expectStep` and counts steps from 0; people
 * count them from 1 (`status` prints `step 2/5`), so the refusal is restated in those terms from
 * the rollout as it is now. Any other error passes through.
 */
async function stepConflict(
  e: unknown,
  read: () => Promise<RolloutView>,
  expectStep: number | undefined,
): Promise<never> {
  if (!isEdgefleetError(e) || e.code !== 'conflict' || e.pointer !== '/expectStep' || expectStep === undefined) throw e
  const now = await read().catch(() => null)
  if (now === null) throw e
  const steps = configOf(now).steps.length
  throw new EdgefleetError(
    'conflict',
    `rollout ${now.id} is at ${stepLabel(now.step, steps)}, not ${stepLabel(expectStep, steps)}: nothing was done`,
    { cause: e },
  )
}
