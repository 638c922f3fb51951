/**
 * @module
 * `edgefleet validate <model> <model.onnx> --data … --label …`: the retrainer's gates on a model
 * trained anywhere (any ONNX classifier with a tabular signature), for CI: a table, exit 0 or 1,
 * nothing published. The whole data file is the holdout; the champion is the model's production
 * version when the edge is reachable with a token, else the majority-class predictor.
 */
import { readFile } from 'node:fs/promises'
import { Command } from 'commander'
import { EdgefleetError } from '../../core/errors.ts'
import { Signature } from '../../core/formats/signature.ts'
import { evaluateGates, rejectionLine, withDefaultGates, type GateSpec } from '../../core/retrain/gates.ts'
import { holdoutMetrics, majorityJudged } from '../../core/retrain/metrics.ts'
import { categoryKey } from '../../core/profile/values.ts'
import type { TabularSignature } from '../../trainer/tabular-signature.ts'
import { clientOf, edgeAction, withConnection, type ConnectionFlags } from '../connection.ts'
import type { Io } from '../io.ts'
import { formatJson } from '../json.ts'
import { readJsonWith } from '../local-json.ts'
import { findModel, loadChampion, type ChampionModel } from '../retrain/champion.ts'
import { dataSourceOf, loadData } from '../retrain/data-source.ts'
import { evaluateOnnx, sliceColumns, slicesOf } from '../retrain/evaluate.ts'
import { formatGates, formatMetrics } from '../retrain/report.ts'
import { gateOption } from './retrain.ts'

interface ValidateFlags extends ConnectionFlags {
  data: string
  label: string
  gate?: GateSpec[]
  signature?: string
}

/** `edgefleet validate`: see the module comment. */
export function validateCommand(io: Io): Command {
  return withConnection(
    new Command('validate')
      .description(
        "judge a model file with the retrainer's gates on labeled data, without publishing (exit 1 on a failed gate)",
      )
      .argument('<model>', 'the model it would replace (its production version is the champion)')
      .argument('<file>', 'the .onnx file')
      .requiredOption('--data <file|url>', 'labeled holdout data: .csv, .tsv, .json or .jsonl')
      .requiredOption('--label <column>', 'the class column')
      .option('--gate <gate>', 'a validation gate, repeatable (as `edgefleet retrain`)', gateOption)
      .option('--signature <file>', "the model's signature (default: the production version's)"),
  ).action(
    edgeAction(async (model: string, file: string, flags: ValidateFlags) => {
      const data = await loadData(dataSourceOf(flags.data))
      const onnx = new Uint8Array(
        await readFile(file).catch(() => {
          throw new EdgefleetError('not_found', `${file}: no such file`)
        }),
      )
      const online = flags.token !== undefined && flags.token !== ''
      const champion: ChampionModel | null = online
        ? await loadChampion(clientOf(flags), await findModel(clientOf(flags), model))
        : null
      const given = flags.signature === undefined ? undefined : await readJsonWith(Signature, flags.signature)
      const signature = (given ?? champion?.signature) as TabularSignature | undefined
      if (signature?.kind !== 'tabular')
        throw new EdgefleetError(
          'bad_request',
          'no tabular signature: pass --signature, or a token for an edge where the model has a production version',
        )
      const rows = data.records.filter((r) => categoryKey(r[flags.label]) !== undefined)
      if (rows.length === 0)
        throw new EdgefleetError('empty_data', `${data.name}: no rows with a "${flags.label}" label`)
      const gates = withDefaultGates(flags.gate ?? [])
      const slices = slicesOf(rows, sliceColumns(gates))
      const candidate = await evaluateOnnx({
        onnx,
        signature,
        holdout: rows,
        label: flags.label,
        slices,
        measure: true,
      })
      const truths = rows.map((r) => categoryKey(r[flags.label])!)
      const majority = holdoutMetrics(majorityJudged(truths, truths), slices)
      const championMetrics = champion
        ? (
            await evaluateOnnx({
              onnx: champion.onnx,
              signature: champion.signature,
              holdout: rows,
              label: flags.label,
              slices,
              measure: false,
            })
          ).metrics
        : null
      const results = evaluateGates(gates, {
        candidate: candidate.metrics,
        champion: champion && championMetrics ? { label: `v${champion.version}`, metrics: championMetrics } : null,
        majorityAccuracy: majority.accuracy,
      })
      const rejection = rejectionLine(results)
      if (flags.json === true)
        io.out(
          `${formatJson({
            model,
            passed: rejection === null,
            rows: rows.length,
            metrics: candidate.metrics,
            champion: champion ? { version: champion.version, metrics: championMetrics } : null,
            majority: { accuracy: majority.accuracy },
            gates: results,
          })}\n`,
        )
      else {
        io.out(formatMetrics(`${file} on ${rows.length} rows`, candidate.metrics))
        if (championMetrics) io.out(formatMetrics(`${model} v${champion!.version} (production)`, championMetrics))
        io.out(formatGates(results))
      }
      if (rejection !== null) throw new EdgefleetError('validation_failed', `${file}: ${rejection}`)
    }),
  )
}
