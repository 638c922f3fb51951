/**
 * @module
 * `edgefleet retrain <model> --data … --label …`: one retraining run with gates, recorded at the
 * edge, optionally published and rolled out; `--watch <retrainer.json>` runs the unattended loop.
 */
import { Command, InvalidArgumentError, Option } from 'commander'
import { EdgefleetError } from '../../core/errors.ts'
import { RunFamily, RunTrigger } from '../../core/formats/run.ts'
import { parseGate, type GateSpec } from '../../core/retrain/gates.ts'
import { edgeAction, withConnection, type ConnectionFlags } from '../connection.ts'
import { processIo, type Io } from '../io.ts'
import { formatJson } from '../json.ts'
import { readJsonFile } from '../local-json.ts'
import { intOption, listOption } from '../options.ts'
import { dataSourceOf, loadData } from '../retrain/data-source.ts'
import { formatRun } from '../retrain/report.ts'
import { retrain } from '../retrain/retrain.ts'
import { handleTrigger, listenForTriggers, pollTriggers } from '../retrain/watch.ts'
import { RetrainerConfig } from '../retrain/watch-config.ts'
import { createEpochProgress } from '../retrain/epoch-progress.ts'
import { readJsonWith } from '../local-json.ts'

interface RetrainFlags extends ConnectionFlags {
  data?: string
  label?: string
  watch?: boolean
  config?: string
  family: RunFamily
  holdout: number
  seed: number
  gate?: GateSpec[]
  publish?: boolean
  rollout?: string
  trigger: string
  features?: string[]
  ignore?: string[]
  categorical?: string[]
  codeCommit?: string
}

/** Commander parser for repeatable `--gate` flags. */
export function gateOption(value: string, previous: GateSpec[] = []): GateSpec[] {
  try {
    return [...previous, parseGate(value)]
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^--gate \S+: /, ''))
  }
}

function shareOption(value: string): number {
  const x = Number(value)
  if (value.trim() === '' || !(x > 0 && x < 1)) throw new InvalidArgumentError('expected a share in (0, 1), e.g. 0.2')
  return x
}

function triggerOption(value: string): string {
  if (!RunTrigger.safeParse(value).success)
    throw new InvalidArgumentError('expected a retrain.requested event id (evt_…) or manual')
  return value
}

/** A RolloutConfig template: inline JSON, or a file holding it. */
export async function readRolloutTemplate(value: string): Promise<{ name: string; value: unknown }> {
  if (value.trim().startsWith('{')) {
    try {
      return { name: '--rollout', value: JSON.parse(value) }
    } catch (e) {
      throw new EdgefleetError('parse_error', `--rollout: invalid JSON: ${(e as Error).message}`)
    }
  }
  return { name: value, value: await readJsonFile(value) }
}

const HELP = `
Gates (repeatable --gate; every gate is recorded with its value, limit and verdict):
  accuracy:min=<0..1>              holdout accuracy at least this
  accuracy:minDelta=<d>            at least the champion's (production version) accuracy + d, same holdout
  baseline:minDelta=<d>            at least the majority-class predictor's + d (default: +0.05, always on)
  sliceGap:by=<col>,max=<gap>      largest accuracy gap between slices of <col> with >= 20 holdout rows
  size:maxBytes=<n>                model file size
  latency:maxMs=<ms>               p95 of one-record inference in onnxruntime-web (WASM)
A failed gate publishes nothing, records a rejected run and exits 1.`

/** `edgefleet retrain`: see the module comment. */
export function retrainCommand(
  io: Io,
  tty: NodeJS.WriteStream | null = io === processIo ? process.stderr : null,
): Command {
  return withConnection(
    new Command('retrain')
      .description(
        'retrain a model on labeled data, judge it with gates, record the run; publish and roll out on success',
      )
      .argument('[model]', 'the model (not with --watch)')
      .option('--data <file|url>', 'labeled data: .csv, .tsv, .json or .jsonl, a path or an http(s) URL')
      .option('--label <column>', 'the class column')
      .option('--watch', 'run unattended: answer every retrain.requested event as --config says')
      .option('--config <retrainer.json>', 'with --watch: per model the data source, label, family, gates, rollout')
      .addOption(new Option('--family <family>', 'what to train').choices(RunFamily.options).default('lda'))
      .option('--holdout <share>', 'share of rows held out, per class', shareOption, 0.2)
      .option('--seed <n>', 'seed of the split (and of training)', intOption(0, 2 ** 31 - 1), 1)
      .option('--gate <gate>', 'a validation gate, repeatable (see below)', gateOption)
      .option('--publish', 'publish the version when every gate passes')
      .option('--rollout <config>', 'then start a rollout: a RolloutConfig JSON (inline or a file), without candidate')
      .option(
        '--trigger <event>',
        'the retrain.requested event this run answers (processed once), or manual',
        triggerOption,
        'manual',
      )
      .option('--features <cols>', 'train on exactly these columns (without a production version)', listOption)
      .option('--ignore <cols>', 'leave these columns out', listOption)
      .option('--categorical <cols>', 'treat these columns as categorical', listOption)
      .option('--code-commit <commit>', 'lineage: the training code commit (default: git rev-parse HEAD)'),
  )
    .addHelpText('after', HELP)
    .action(
      edgeAction(async (model: string | undefined, flags: RetrainFlags) => {
        if (flags.watch === true) return watch(io, flags, model)
        if (model === undefined) throw new EdgefleetError('bad_request', 'missing the model (or --watch)')
        if (flags.data === undefined || flags.label === undefined)
          throw new EdgefleetError('bad_request', '--data and --label are required (or --watch --config)')
        if (flags.rollout !== undefined && flags.publish !== true)
          throw new EdgefleetError('bad_request', '--rollout needs --publish')
        const rollout = flags.rollout === undefined ? undefined : await readRolloutTemplate(flags.rollout)
        const data = await loadData(dataSourceOf(flags.data))
        // With --json, progress is JSON lines on stderr too: stdout holds only the run.
        const progress = (line: string) =>
          io.err(flags.json === true ? `${JSON.stringify({ progress: 'step', message: line })}\n` : `${line}\n`)
        const epochs = createEpochProgress(io, { json: flags.json === true }, tty)
        const outcome = await retrain(io, flags, {
          model,
          data,
          label: flags.label,
          family: flags.family,
          holdout: flags.holdout,
          seed: flags.seed,
          gates: flags.gate ?? [],
          trigger: flags.trigger as RunTrigger,
          publish: flags.publish === true,
          rollout,
          infer: { features: flags.features, ignore: flags.ignore, categorical: flags.categorical },
          codeCommit: flags.codeCommit,
          progress: (line) => (epochs.close(), progress(line)),
          onEpoch: (e, n, loss) => epochs.onEpoch(e, n, loss),
        }).finally(() => epochs.close())
        if (outcome.kind === 'already_done') {
          if (flags.json === true) io.out(`${formatJson(outcome.run)}\n`)
          else
            io.out(
              `event ${outcome.run.trigger} was already handled by run ${outcome.run.id}${outcome.run.version === null ? '' : ` (v${outcome.run.version})`}; nothing to do\n`,
            )
          return
        }
        io.out(flags.json === true ? `${formatJson(outcome.run)}\n` : formatRun(outcome.run))
        if (outcome.rejection !== null)
          throw new EdgefleetError('validation_failed', `run ${outcome.run.id} rejected: ${outcome.rejection}`)
      }),
    )
}

async function watch(io: Io, flags: RetrainFlags, model: string | undefined): Promise<void> {
  if (model !== undefined || flags.data !== undefined)
    throw new EdgefleetError('bad_request', '--watch takes no model and no --data: retrainer.json names them')
  if (flags.config === undefined) throw new EdgefleetError('bad_request', '--watch needs --config <retrainer.json>')
  const config = await readJsonWith(RetrainerConfig, flags.config)
  const stop = new AbortController()
  process.once('SIGINT', () => stop.abort())
  process.once('SIGTERM', () => stop.abort())
  if (config.webhook !== undefined) {
    const server = listenForTriggers(config, (e) => handleTrigger(io, flags, config, e))
    server.once('listening', () => {
      const a = server.address()
      io.err(
        `listening for retrain.requested on ${typeof a === 'string' ? a : `http://${a?.address}:${a?.port}`}${config.webhook?.path}\n`,
      )
    })
    await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => server.close(() => resolve())))
    return
  }
  io.err(`polling retrain.requested events every ${config.pollSeconds} s (cursor in ${config.cursorFile})\n`)
  await pollTriggers(io, flags, config, stop.signal)
}
