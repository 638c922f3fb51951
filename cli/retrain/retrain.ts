/**
 * @module
 * One retraining run, end to end: split the labeled data (split/1), train the family, judge the
 * candidate and the champion on the same holdout in onnxruntime-web, apply the gates, and record the
 * run at the edge; when every gate passes and asked to, publish the version (profile, signature,
 * metrics, lineage naming the run) and start its rollout. A trigger event is processed once.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EdgefleetError, isEdgefleetError } from '../../core/errors.ts'
import type { Profile } from '../../core/formats/profile.ts'
import type { CreateRun, Run, RunFamily, RunMetrics, RunTrigger } from '../../core/formats/run.ts'
import { buildProfile } from '../../core/profile/build.ts'
import { fitCalibration } from '../../core/estimate/calibration.ts'
import type { InferOptions } from '../../core/profile/infer.ts'
import { categoryKey } from '../../core/profile/values.ts'
import { evaluateGates, rejectionLine, withDefaultGates, type GateSpec } from '../../core/retrain/gates.ts'
import { holdoutMetrics, majorityJudged } from '../../core/retrain/metrics.ts'
import { stratifiedSplit } from '../../core/retrain/split.ts'
import { openOnnxClassifier } from '../../trainer/onnx-classifier.ts'
import { trainTabularLda, type TrainedClassifier } from '../../trainer/tabular-lda.ts'
import { trainTabularMlpInThread } from '../../trainer/mlp-thread.ts'
import { tabularSignatureFor, type TabularSignature } from '../../trainer/tabular-signature.ts'
import { publishFiles } from '../commands/publish.ts'
import { clientOf, type ConnectionFlags } from '../connection.ts'
import type { EdgeClient } from '../edge-client.ts'
import type { Io } from '../io.ts'
import { buildRolloutConfig, type ConfigFile } from '../rollout-config.ts'
import { findModel, loadChampion } from './champion.ts'
import { LINE_EVERY } from './epoch-progress.ts'
import type { LoadedData } from './data-source.ts'
import { evaluateOnnx, sliceColumns, slicesOf } from './evaluate.ts'

/** The name the profile gives a classifier's top probability (what the SDK's worker bins it under). */
const CONFIDENCE = 'confidence'

/** Everything one run needs. */
export interface RetrainOptions {
  model: string
  data: LoadedData
  label: string
  family: RunFamily
  holdout: number
  seed: number
  gates: readonly GateSpec[]
  trigger: RunTrigger
  publish: boolean
  /** A RolloutConfig template started for the published version (its candidate is filled in). */
  rollout?: ConfigFile
  infer?: InferOptions
  codeCommit?: string | null
  /** Reports progress lines (training, evaluating, publishing). */
  progress?: (line: string) => void
  /** Receives each mlp epoch's training loss (default: a progress line every 50 epochs). */
  onEpoch?: (epoch: number, epochs: number, loss: number) => void
  /** Trains the family (the mlp family's trainer is injected by the command). */
  train?: (
    family: RunFamily,
    train: Record<string, unknown>[],
    signature: TabularSignature,
    label: string,
  ) => Promise<TrainedClassifier>
}

/** What a run did: the recorded run, or the run that already handled the trigger. */
export type RetrainOutcome =
  { kind: 'recorded'; run: Run; rejection: string | null } | { kind: 'already_done'; run: Run }

/** The commit of the code in the working directory, or null outside a git checkout. */
export function gitCommit(cwd = process.cwd()): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim()
  } catch {
    return null
  }
}

/** A fresh run id: `run_` + 20 random hex characters. */
export function newRunId(): string {
  return `run_${randomBytes(10).toString('hex')}`
}

/** Runs one retraining (see the module comment); a failure after the data loaded is recorded as a `failed` run. */
export async function retrain(io: Io, flags: ConnectionFlags, o: RetrainOptions): Promise<RetrainOutcome> {
  const client = clientOf(flags)
  const say = o.progress ?? (() => {})
  // A bad rollout template is refused before anything is trained or published.
  if (o.rollout !== undefined) rolloutFor(1, o.rollout)
  if (o.trigger !== 'manual') {
    const done = await completedRunOf(client, o.model, o.trigger)
    if (done !== null) return { kind: 'already_done', run: done }
  }
  const startedAt = Date.now()
  const id = newRunId()
  const codeCommit = o.codeCommit === undefined ? gitCommit() : o.codeCommit
  const base = {
    id,
    trigger: o.trigger,
    params: {
      family: o.family,
      seed: o.seed,
      holdout: o.holdout,
      hyper: {} as Record<string, number | string | boolean>,
    },
    data: {
      name: o.data.name.slice(0, 500),
      sha256: o.data.sha256,
      rows: o.data.records.length,
      trainRows: 0,
      holdoutRows: 0,
      label: o.label,
      features: [] as string[],
    },
    codeCommit,
    startedAt,
  }
  let existing = await findModel(client, o.model)
  try {
    const champion = await loadChampion(client, existing)
    const labels = o.data.records.map((r) => categoryKey(r[o.label]))
    if (labels.every((l) => l === undefined))
      throw new EdgefleetError('validation_failed', `${o.data.name}: no rows with a "${o.label}" label`)
    const split = stratifiedSplit(labels, o.holdout, o.seed)
    const train = split.train.map((i) => o.data.records[i])
    const holdout = split.holdout.map((i) => o.data.records[i])
    if (holdout.length === 0) throw new EdgefleetError('empty_data', `${o.data.name}: too few rows for a holdout`)
    base.data.trainRows = train.length
    base.data.holdoutRows = holdout.length
    const signature = tabularSignatureFor(train, { label: o.label, champion: champion?.signature, infer: o.infer })
    base.data.features = signature.features.map((f) => f.name)

    say(`training ${o.family} on ${train.length} rows (${holdout.length} held out, seed ${o.seed})`)
    const t0 = performance.now()
    const trained = await (o.train ?? ((f, t, sig, l) => defaultTrain(f, t, sig, l, o.seed, say, o.onEpoch)))(
      o.family,
      train,
      signature,
      o.label,
    )
    const trainingMs = performance.now() - t0
    base.params.hyper = trained.hyper

    say(`evaluating on the holdout${champion ? ` against v${champion.version}` : ''}`)
    const gates = withDefaultGates(o.gates)
    const slices = slicesOf(holdout, sliceColumns(gates))
    const candidate = await evaluateOnnx({
      onnx: trained.onnx,
      signature,
      holdout,
      label: o.label,
      slices,
      measure: true,
    })
    const metrics: RunMetrics = { ...candidate.metrics, trainingMs }
    const trainLabels = train.map((r) => categoryKey(r[o.label])!)
    const holdoutLabels = holdout.map((r) => categoryKey(r[o.label])!)
    const majority = holdoutMetrics(majorityJudged(trainLabels, holdoutLabels), slices)
    const championMetrics = champion
      ? (
          await evaluateOnnx({
            onnx: champion.onnx,
            signature: champion.signature,
            holdout,
            label: o.label,
            slices,
            measure: false,
          })
        ).metrics
      : null
    const results = evaluateGates(gates, {
      candidate: metrics,
      champion: champion && championMetrics ? { label: `v${champion.version}`, metrics: championMetrics } : null,
      majorityAccuracy: majority.accuracy,
    })
    const rejection = rejectionLine(results)
    const run: CreateRun = {
      ...base,
      status: rejection === null ? 'completed' : 'rejected',
      metrics,
      champion: champion
        ? { kind: 'version', version: champion.version, metrics: championMetrics! }
        : { kind: 'majority', version: null, metrics: majority },
      gates: results,
      finishedAt: Date.now(),
    }

    if (rejection === null && o.publish) {
      const profile = await trainingProfile(trained.onnx, signature, train, { rows: holdout, label: o.label })
      say('publishing')
      const published = await publishCandidate(io, flags, o, {
        onnx: trained.onnx,
        signature,
        profile,
        metrics,
        parent: champion?.version,
        runId: id,
        codeCommit,
      })
      existing = await findModel(client, o.model)
      run.version = published
      if (o.rollout !== undefined) {
        say(`starting the rollout of v${published}`)
        run.rollout = (await client.startRollout(o.model, rolloutFor(published, o.rollout))).id
      }
      run.finishedAt = Date.now()
    }
    if (existing === null) existing = await createModelFor(client, o.model, signature)
    return { kind: 'recorded', run: await client.createRun(o.model, run), rejection }
  } catch (e) {
    if (isEdgefleetError(e) && e.code === 'conflict' && e.pointer === '/trigger') {
      const done = await completedRunOf(client, o.model, String(o.trigger))
      if (done !== null) return { kind: 'already_done', run: done }
    }
    // Only a model that exists can hold the failed run; the error itself is what the user needs.
    if (existing !== null || (await findModel(client, o.model)) !== null)
      await client
        .createRun(o.model, {
          ...base,
          status: 'failed',
          metrics: null,
          champion: null,
          gates: [],
          error: (e instanceof Error ? e.message : String(e)).slice(0, 2000),
          finishedAt: Date.now(),
        })
        .catch(() => undefined)
    throw e
  }
}

/** The rollout config of a template for a candidate, or a `validation_failed` naming the template and field. */
function rolloutFor(candidate: number, template: ConfigFile) {
  const built = buildRolloutConfig(candidate, {}, template)
  if ('problem' in built) {
    const p = built.problem
    const where = p.source === 'file' && p.pointer !== '' ? ` (at ${p.pointer})` : ''
    throw new EdgefleetError(
      'validation_failed',
      `--rollout ${template.name === '--rollout' ? '' : `${template.name}: `}${p.message}${where}`,
    )
  }
  return built.value
}

async function defaultTrain(
  family: RunFamily,
  train: Record<string, unknown>[],
  signature: TabularSignature,
  label: string,
  seed: number,
  say: (line: string) => void,
  onEpoch?: (epoch: number, epochs: number, loss: number) => void,
): Promise<TrainedClassifier> {
  if (family === 'lda') return trainTabularLda(train, signature, label)
  if (family === 'mlp')
    return trainTabularMlpInThread(
      { train, signature, label, options: { seed } },
      onEpoch ??
        ((e, n, loss) => {
          if (e % LINE_EVERY === 0 || e === n) say(`epoch ${e}/${n}: loss ${loss.toFixed(4)}`)
        }),
    )
  throw new EdgefleetError('bad_request', `family ${family} is not available here`)
}

async function completedRunOf(client: EdgeClient, model: string, trigger: string): Promise<Run | null> {
  try {
    return (await client.listRuns(model, { trigger, status: 'completed', limit: 1 })).runs[0] ?? null
  } catch (e) {
    if (isEdgefleetError(e) && e.code === 'not_found') return null
    throw e
  }
}

async function createModelFor(client: EdgeClient, model: string, signature: TabularSignature) {
  try {
    await client.createModel({ name: model, format: 'onnx', task: 'classification', signature })
  } catch (e) {
    if (!(isEdgefleetError(e) && e.code === 'conflict')) throw e
  }
  return findModel(client, model)
}

/**
 * The reference profile stored with the version: the training rows' features as the signature types
 * them, and the model's own outputs on them (the class under the output's name, its probability
 * under `confidence`), as devices will report them; and the calibration map of its top score fitted
 * on the holdout (rows the model was not trained on, so the map is not overconfident).
 */
async function trainingProfile(
  onnx: Uint8Array,
  signature: TabularSignature,
  train: readonly Record<string, unknown>[],
  holdout: { rows: readonly Record<string, unknown>[]; label: string },
): Promise<Profile> {
  const model = await openOnnxClassifier(onnx, signature)
  try {
    const predictions = await model.predict(train)
    const held = await model.predict(holdout.rows)
    const calibration = fitCalibration(
      held.map((p, i) => ({
        // float32 softmax can round a hair past 1
        score: Math.min(1, Math.max(0, p.scores[p.label])),
        correct: p.label === categoryKey(holdout.rows[i][holdout.label]),
      })),
      { label: holdout.label },
    )
    const output = signature.output.name!
    const rows = train.map((r, i) => {
      const row: Record<string, unknown> = {
        [output]: predictions[i].label,
        [CONFIDENCE]: predictions[i].scores[predictions[i].label],
      }
      for (const f of signature.features) row[f.name] = r[f.name]
      return row
    })
    const profile = buildProfile(
      rows,
      {},
      {
        columns: [
          ...signature.features.map((f) => ({ name: f.name, role: 'feature' as const, type: f.type })),
          { name: output, role: 'output', type: 'categorical' },
          { name: CONFIDENCE, role: 'output', type: 'numeric' },
        ],
        skipped: [],
      },
    )
    return { ...profile, calibration }
  } finally {
    await model.release()
  }
}

/** Publishes the candidate through `publish` (uploads, interface check, lineage); resolves to its version. */
async function publishCandidate(
  io: Io,
  flags: ConnectionFlags,
  o: RetrainOptions,
  c: {
    onnx: Uint8Array
    signature: TabularSignature
    profile: Profile
    metrics: RunMetrics
    parent: number | undefined
    runId: string
    codeCommit: string | null
  },
): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-retrain-'))
  try {
    writeFileSync(join(dir, 'model.onnx'), c.onnx)
    writeFileSync(join(dir, 'signature.json'), JSON.stringify(c.signature))
    writeFileSync(join(dir, 'profile.json'), JSON.stringify(c.profile))
    const quiet: Io = { out: () => {}, err: io.err }
    const result = await publishFiles(quiet, null, o.model, [join(dir, 'model.onnx')], {
      ...flags,
      json: true,
      task: 'classification',
      signature: join(dir, 'signature.json'),
      profile: join(dir, 'profile.json'),
      parent: c.parent,
      dataHash: `sha256:${o.data.sha256}`,
      codeCommit: c.codeCommit ?? undefined,
      triggerEvent: o.trigger === 'manual' ? undefined : o.trigger,
      runId: c.runId,
      metric: {
        holdout_accuracy: c.metrics.accuracy,
        holdout_log_loss: c.metrics.logLoss,
        holdout_rows: Object.values(c.metrics.perClass).reduce((a, g) => a + g.n, 0),
      },
    })
    return result.manifest.version
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
