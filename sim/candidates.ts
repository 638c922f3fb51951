import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { trainLda } from '../trainer/lda.ts'
import { seededRandom, shuffled } from '../scripts/lib/random.ts'
import type { WeatherDay } from './weather-days.ts'

const bin = fileURLToPath(new URL('../bin/edgefleet.js', import.meta.url))
const FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind']

/** How a candidate is trained: on real days, or on real days whose labels were shuffled (a broken pipeline). */
export type CandidateKind = 'retrained' | 'shuffled-labels'

/**
 * Trains a weather candidate with the trainer's LDA and publishes it with the edgefleet CLI (parent:
 * the current production version). `shuffled-labels` is honestly worse: the features no longer say
 * anything about the label, so it predicts little better than the class priors.
 */
export async function publishCandidate(options: {
  url: string
  token: string
  model: string
  parent: number
  days: readonly WeatherDay[]
  kind: CandidateKind
  seed: number
}): Promise<number> {
  let records: Record<string, unknown>[] = options.days.map((d) => ({ ...d }))
  if (options.kind === 'shuffled-labels') {
    const labels = shuffled(
      records.map((r) => r.weather),
      seededRandom(options.seed),
    )
    records = records.map((r, i) => ({ ...r, weather: labels[i] }))
  }
  const trained = trainLda(records, { features: FEATURES, label: 'weather' })
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-sim-candidate-'))
  try {
    writeFileSync(join(dir, 'model.onnx'), trained.onnx)
    writeFileSync(join(dir, 'signature.json'), JSON.stringify(trained.signature))
    writeFileSync(join(dir, 'profile.json'), JSON.stringify(trained.profile))
    const metrics = Object.entries(trained.metrics).flatMap(([k, v]) => ['--metric', `${k}=${v}`])
    const out = await runCli(options, [
      'publish',
      options.model,
      join(dir, 'model.onnx'),
      '--signature',
      join(dir, 'signature.json'),
      '--profile',
      join(dir, 'profile.json'),
      '--parent',
      String(options.parent),
      ...metrics,
      '--json',
    ])
    return (JSON.parse(out) as { version: number }).version
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs the edgefleet CLI against the edge; resolves with stdout. */
function runCli(edge: { url: string; token: string }, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, EDGEFLEET_URL: edge.url, EDGEFLEET_TOKEN: edge.token, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('error', reject)
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`edgefleet ${args[0]} exited ${code}: ${err}`)),
    )
  })
}
