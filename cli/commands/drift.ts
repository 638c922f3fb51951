import { Command, Option } from 'commander'
import { DEFAULT_DRIFT_POLICY } from '../../core/drift/index.ts'
import { compareDatasets } from '../drift-report.ts'
import type { DriftReport, DriftRuleOption, FeatureDrift } from '../drift-report.ts'
import type { Io } from '../io.ts'
import { formatJson } from '../json.ts'
import { listOption } from '../options.ts'
import { readRecords } from '../records.ts'
import { renderTable } from '../table.ts'
import { formatPValue, formatStat } from '../units.ts'

interface DriftFlags {
  categorical?: string[]
  ignore?: string[]
  json?: boolean
  rule: DriftRuleOption
}

/** `edgefleet drift <reference> <current>`: per-feature drift metrics and verdicts between two datasets. */
export function driftCommand(io: Io): Command {
  return new Command('drift')
    .description(
      'compare current data with reference data, feature by feature (KS, Wasserstein, PSI, JS, Hellinger, chi-squared)',
    )
    .argument('<reference>', 'reference data (e.g. the training set): .csv, .tsv, .json or .jsonl')
    .argument('<current>', 'current data with the same columns')
    .option('--categorical <cols>', 'treat these columns as categorical (comma-separated)', listOption)
    .option('--ignore <cols>', 'leave these columns out', listOption)
    .addOption(
      new Option(
        '--rule <rule>',
        'verdict: raw samples (KS / chi-squared p < 0.05), binned (chi-squared p < 0.01 and JS > 0.1), or auto (raw up to 1000 reference rows)',
      )
        .choices(['auto', 'raw', 'binned'])
        .default('auto'),
    )
    .option('--json', 'print the report as JSON')
    .action(async (reference: string, current: string, flags: DriftFlags) => {
      const [ref, cur] = await Promise.all([readRecords(reference), readRecords(current)])
      const report = compareDatasets(ref, cur, {
        categorical: flags.categorical,
        ignore: flags.ignore,
        rule: flags.rule,
      })
      io.out(flags.json === true ? `${formatJson(report)}\n` : formatDriftReport(report))
    })
}

/** The human-readable report: inputs, the rule, one table row per feature, skipped columns, the verdict. */
export function formatDriftReport(report: DriftReport): string {
  const p = DEFAULT_DRIFT_POLICY
  const header = [
    'feature',
    'type',
    'n ref/cur',
    'missing',
    'ks',
    'ks p',
    'wasserstein',
    'psi',
    'js',
    'hellinger',
    'chi2 p',
    'drifted',
    'binned',
  ]
  const align = [
    'left',
    'left',
    'right',
    'right',
    'right',
    'right',
    'right',
    'right',
    'right',
    'right',
    'right',
    'left',
    'left',
  ] as const
  const rows = Object.entries(report.features).map(([name, f]) => [
    name,
    f.type,
    `${f.n[0]}/${f.n[1]}`,
    `${f.missing[0]}/${f.missing[1]}`,
    f.type === 'numeric' ? formatStat(f.ks) : '',
    f.type === 'numeric' ? formatPValue(f.ks_p) : '',
    f.type === 'numeric' ? formatStat(f.wasserstein) : '',
    formatStat(f.psi),
    formatStat(f.js),
    formatStat(f.hellinger),
    formatPValue(f.chi2_p),
    verdict(f, f.drifted),
    verdict(f, f.drifted_binned),
  ])
  const skipped = Object.entries(report.skipped).map(([name, reason]) => `${name} (${reason})`)
  // A feature with no values on one side gets no verdict; say so, since it usually means a broken pipeline.
  const empty = Object.entries(report.features)
    .filter(([, f]) => f.reason === 'insufficient_data')
    .map(
      ([name, f]) =>
        `note: ${name} has no values in ${f.n[0] === 0 ? report.reference.file : report.current.file}, no verdict (n/a)`,
    )
  const share = (s: number) => `${Math.round(s * 100)}%`
  const binnedCount = Math.round(report.drifted_binned_share * report.feature_count)
  return [
    `reference  ${report.reference.file}  (${report.reference.rows} rows)`,
    `current    ${report.current.file}  (${report.current.rows} rows)`,
    `rule       ${report.rule}: ${
      report.rule === 'raw'
        ? `KS p < ${p.rawKsAlpha} (numeric), chi-squared p < ${p.rawChi2Alpha} (categorical)`
        : `chi-squared p < ${p.binnedAlpha} and JS > ${p.binnedMinJs}`
    }; "binned" column: chi-squared p < ${p.binnedAlpha} and JS > ${p.binnedMinJs} on the reference's bins`,
    '',
    renderTable(header, rows, align).trimEnd(),
    ...(skipped.length > 0 || empty.length > 0 ? [''] : []),
    ...(skipped.length > 0 ? [`skipped: ${skipped.join(', ')}`] : []),
    ...empty,
    '',
    `${report.drifted_count} of ${report.feature_count} features drifted (${share(report.drifted_share)}), rule ${report.rule}; ` +
      `binned rule: ${binnedCount} of ${report.feature_count} (${share(report.drifted_binned_share)})`,
    '',
  ].join('\n')
}

function verdict(f: FeatureDrift, drifted: boolean): string {
  return f.reason === 'insufficient_data' ? 'n/a' : drifted ? 'yes' : 'no'
}
