import { readFile, writeFile } from 'node:fs/promises'
import { Command } from 'commander'
import { EdgefleetError } from '../../core/errors.ts'
import { calibrationFromRecords, DEFAULT_CALIBRATION_BINS, MAX_CALIBRATION_BINS } from '../../core/estimate/index.ts'
import type { Calibration } from '../../core/formats/calibration.ts'
import { Signature } from '../../core/formats/signature.ts'
import { openOnnxClassifier } from '../../trainer/onnx-classifier.ts'
import type { TabularSignature } from '../../trainer/tabular-signature.ts'
import { readJsonWith } from '../local-json.ts'
import { buildProfile, DEFAULT_BINS, DEFAULT_TOP_K, inferColumns, MAX_BINS } from '../../core/profile/index.ts'
import type { ColumnInference, ProfileOptions } from '../../core/profile/index.ts'
import type { Io } from '../io.ts'
import { formatJson } from '../json.ts'
import { intOption, listOption } from '../options.ts'
import { readRecords } from '../records.ts'

interface ProfileFlags {
  output?: string
  bins: number
  topK: number
  categorical?: string[]
  ignore?: string[]
  outputs?: string[]
  features?: string[]
  label?: string
  prediction?: string
  score: string
  calibrationBins: number
  model?: string
  signature?: string
}

/** `edgefleet profile <data> -o profile.json`: builds a `profile/1` reference profile from training data. */
export function profileCommand(io: Io): Command {
  return new Command('profile')
    .description('build a reference profile (profile/1) from training data (CSV with a header, or JSON)')
    .argument('<data>', 'training data: .csv, .tsv, .json (array of objects) or .jsonl')
    .option('-o, --output <file>', 'write the profile here (default: standard output)')
    .option('--bins <n>', 'bins per numeric feature (quantile edges)', intOption(1, MAX_BINS), DEFAULT_BINS)
    .option(
      '--top-k <k>',
      'categories kept per categorical feature (the rest are __other__)',
      intOption(1, 1000),
      DEFAULT_TOP_K,
    )
    .option('--categorical <cols>', 'treat these columns as categorical (comma-separated)', listOption)
    .option('--ignore <cols>', 'leave these columns out', listOption)
    .option('--outputs <cols>', 'profile these columns as model outputs', listOption)
    .option('--features <cols>', 'profile exactly these input columns (also ids or timestamps)', listOption)
    .option(
      '--label <col>',
      "a classifier's true class: fit a calibration map of its top score (the column itself is not profiled)",
    )
    .option('--prediction <col>', 'with --label: the predicted class column (default: the only categorical output)')
    .option('--score <col>', "with --label: the prediction's top class score", 'confidence')
    .option(
      '--calibration-bins <n>',
      'with --label: equal-mass bins before pooling',
      intOption(1, MAX_CALIBRATION_BINS),
      DEFAULT_CALIBRATION_BINS,
    )
    .option('--model <file>', 'with --label: predict with this ONNX classifier instead of reading --prediction/--score')
    .option('--signature <file>', "with --model: the model's tabular signature")
    .action(async (data: string, flags: ProfileFlags) => {
      const dataset = await readRecords(data)
      const ignore = [...(flags.ignore ?? []), ...(flags.label === undefined ? [] : [flags.label])]
      const options: ProfileOptions = { ...flags, topK: flags.topK, ignore }
      let inference: ColumnInference
      try {
        inference = inferColumns(dataset.records, options)
      } catch (e) {
        throw e instanceof EdgefleetError ? new EdgefleetError(e.code, `${data}: ${e.message}`, { cause: e }) : e
      }
      const built = buildProfile(dataset.records, options, inference)
      const calibration = flags.label === undefined ? undefined : await calibrate(dataset.records, inference, flags)
      const profile = calibration === undefined ? built : { ...built, calibration }
      const json = `${formatJson(profile)}\n`
      const summary =
        summarize(inference, dataset.records.length, flags.output) + (calibration ? calibrationLine(calibration) : '')
      if (flags.output === undefined) {
        io.out(json)
        io.err(summary)
        return
      }
      try {
        await writeFile(flags.output, json)
      } catch (e) {
        throw new EdgefleetError(
          'bad_request',
          `${flags.output}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
          { cause: e },
        )
      }
      io.out(summary)
    })
}

function summarize(inference: ColumnInference, rows: number, output: string | undefined): string {
  const cols = inference.columns.map((c) => `${c.name} (${c.type}${c.role === 'output' ? ', output' : ''})`)
  const skipped = inference.skipped.map((s) => `${s.name} (${s.reason})`)
  return (
    `profiled ${rows} row${rows === 1 ? '' : 's'}, ${cols.length} column${cols.length === 1 ? '' : 's'}${output === undefined ? '' : ` → ${output}`}: ${cols.join(', ')}\n` +
    (skipped.length > 0 ? `skipped: ${skipped.join(', ')}\n` : '')
  )
}

/** The calibration map of `--label`: from the data's prediction and score columns, or from `--model`'s own predictions. */
async function calibrate(
  records: readonly Record<string, unknown>[],
  inference: ColumnInference,
  flags: ProfileFlags,
): Promise<Calibration> {
  const label = flags.label!
  const bins = flags.calibrationBins
  if (flags.model !== undefined) {
    if (flags.signature === undefined) throw new EdgefleetError('bad_request', '--model needs --signature')
    const signature = await readJsonWith(Signature, flags.signature)
    if (signature.kind !== 'tabular')
      throw new EdgefleetError('bad_request', `${flags.signature}: not a tabular signature`)
    const bytes = await readFile(flags.model).catch(() => {
      throw new EdgefleetError('not_found', `${flags.model}: no such file`)
    })
    const model = await openOnnxClassifier(new Uint8Array(bytes), signature as TabularSignature)
    try {
      const predictions = await model.predict(records)
      const rows = records.map((r, i) => ({
        truth: r[label],
        prediction: predictions[i].label,
        score: predictions[i].scores[predictions[i].label],
      }))
      const fitted = calibrationFromRecords(rows, { label: 'truth', prediction: 'prediction', score: 'score', bins })
      return { ...fitted, label }
    } finally {
      await model.release()
    }
  }
  const prediction = flags.prediction ?? onlyPrediction(inference, flags.score)
  return calibrationFromRecords(records, { label, prediction, score: flags.score, bins })
}

/** The profile's only categorical output besides the score, which `--label` compares with. */
function onlyPrediction(inference: ColumnInference, score: string): string {
  const outputs = inference.columns.filter((c) => c.role === 'output' && c.type === 'categorical' && c.name !== score)
  if (outputs.length !== 1)
    throw new EdgefleetError(
      'bad_request',
      `--label needs the predicted class column: pass --prediction, or --outputs with exactly one categorical output (found ${outputs.length})`,
    )
  return outputs[0].name
}

function calibrationLine(c: Calibration): string {
  const n = c.counts.reduce((a, b) => a + b, 0)
  const correct = c.correct.reduce((a, b) => a + b, 0)
  return `calibration against ${c.label}: ${n} labelled row${n === 1 ? '' : 's'}, ${c.counts.length} bin${c.counts.length === 1 ? '' : 's'}, accuracy ${(correct / n).toFixed(3)}\n`
}
