import { writeFile } from 'node:fs/promises'
import { Command } from 'commander'
import { EdgefleetError } from '../../core/errors.ts'
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
    .action(async (data: string, flags: ProfileFlags) => {
      const dataset = await readRecords(data)
      const options: ProfileOptions = { ...flags, topK: flags.topK }
      let inference: ColumnInference
      try {
        inference = inferColumns(dataset.records, options)
      } catch (e) {
        throw e instanceof EdgefleetError ? new EdgefleetError(e.code, `${data}: ${e.message}`, { cause: e }) : e
      }
      const profile = buildProfile(dataset.records, options, inference)
      const json = `${formatJson(profile)}\n`
      const summary = summarize(inference, dataset.records.length, flags.output)
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
