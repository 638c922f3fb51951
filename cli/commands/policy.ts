import { Command } from 'commander'
import { RetrainPolicy, type Condition, type PolicyView, type When } from '../../core/formats/policy.ts'
import { clientOf, edgeAction, withConnection, type ConnectionFlags } from '../connection.ts'
import type { Io } from '../io.ts'
import { formatJson } from '../json.ts'
import { readJsonWith } from '../local-json.ts'
import { formatMinutes, formatTime } from '../units.ts'

/** `edgefleet policy set|get|evaluate`: a model's retraining policy, checked locally before it is sent. */
export function policyCommand(io: Io): Command {
  const output = { writeOut: io.out, writeErr: io.err }
  const print = (view: PolicyView, flags: ConnectionFlags) =>
    io.out(flags.json === true ? `${formatJson(view)}\n` : formatPolicy(view))
  const set = withConnection(
    new Command('set')
      .description('replace the retraining policy of a model (RetrainPolicy JSON, see docs/telemetry.md)')
      .argument('<model>', 'the model')
      .argument('<file>', 'the policy, a JSON file'),
  ).action(
    edgeAction(async (model: string, file: string, flags: ConnectionFlags) => {
      // A bad file fails here, naming the file and the field, before any request.
      const policy = await readJsonWith(RetrainPolicy, file)
      print(await clientOf(flags).putPolicy(model, policy), flags)
    }),
  )
  const get = withConnection(
    new Command('get')
      .description('print the retraining policy of a model and its evaluation state (secret redacted)')
      .argument('<model>', 'the model'),
  ).action(
    edgeAction(async (model: string, flags: ConnectionFlags) => print(await clientOf(flags).getPolicy(model), flags)),
  )
  const evaluate = withConnection(
    new Command('evaluate')
      .description('judge the policy now on its closed windows (fires retrain.requested when it holds)')
      .argument('<model>', 'the model')
      .option(
        '--close-open-window',
        'judge the window still open as if it had closed (a local edge only: ENVIRONMENT=development)',
      ),
  ).action(
    edgeAction(async (model: string, flags: ConnectionFlags & { closeOpenWindow?: boolean }) =>
      print(await clientOf(flags).evaluatePolicy(model, { closeOpenWindow: flags.closeOpenWindow === true }), flags),
    ),
  )
  const policy = new Command('policy').description("set, read and evaluate a model's retraining policy")
  // Subcommands added with addCommand do not inherit the parent's settings, so each gets them here.
  for (const sub of [set, get, evaluate]) policy.addCommand(sub.exitOverride().configureOutput(output))
  return policy
}

/** The policy as `key  value` lines: what it watches, when it fires, and where it stands. */
export function formatPolicy(p: PolicyView): string {
  const s = p.state
  const time = (t: number | null) => (t === null ? '-' : formatTime(t))
  const lines: [string, string][] = [
    ['enabled', p.enabled ? 'yes' : 'no'],
    ['version', p.version === undefined ? 'whichever version production points to' : `v${p.version}`],
    ['when', formatWhen(p.when)],
    ['cooldown', formatMinutes(p.cooldownMinutes)],
    ['grace', formatMinutes(p.graceMinutes)],
    ['webhook', p.webhook === undefined ? '-' : `${p.webhook.url} (secret ${p.webhook.secret})`],
    ['last evaluated', time(s.lastEvaluatedAt)],
    ['last result', s.lastResult === null ? '-' : `${s.lastResult.met ? 'met' : 'not met'}: ${s.lastResult.reason}`],
    [
      'last fired',
      s.lastFiredAt === null
        ? 'never'
        : `${formatTime(s.lastFiredAt)}${s.lastEventId === null ? '' : ` (${s.lastEventId})`}`,
    ],
    ['cooldown until', time(s.cooldownUntil)],
    ['next evaluation', time(s.nextEvaluationAt)],
  ]
  const width = Math.max(...lines.map(([k]) => k.length))
  const head = `${p.model} retraining policy, revision ${p.revision} (${formatTime(p.updatedAt)} by ${p.updatedBy})`
  return [head, ...lines.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n') + '\n'
}

/** `any of: a; b` or one condition, each as `name key=value …`. */
function formatWhen(when: When): string {
  if ('any' in when) return `any of: ${when.any.map(formatCondition).join('; ')}`
  if ('all' in when) return `all of: ${when.all.map(formatCondition).join('; ')}`
  return formatCondition(when)
}

function formatCondition(c: Condition): string {
  const [[name, params]] = Object.entries(c) as [string, Record<string, unknown>][]
  const args = Object.entries(params).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
  return [name, ...args].join(' ')
}
