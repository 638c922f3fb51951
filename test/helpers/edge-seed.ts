import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { seededRandom } from '../../scripts/lib/random.ts'
import { E2E_ADMIN_TOKEN, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'
import { linearClassifier } from './onnx-model.ts'

const bin = fileURLToPath(new URL('../../bin/edgefleet.js', import.meta.url))
const WEATHER = fileURLToPath(new URL('../../demo/models/weather/', import.meta.url))

/** Runs the real `edgefleet` CLI against an edge; resolves with stdout, rejects with stderr. */
export function cli(dev: WranglerDev, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, EDGEFLEET_URL: dev.url, EDGEFLEET_TOKEN: E2E_ADMIN_TOKEN, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`edgefleet ${args.join(' ')} exited ${code}: ${err}`))
    })
  })
}

/** Creates an app key (a token with the single scope `device`) and returns its secret. */
export async function createAppKey(dev: WranglerDev, name = 'web-app'): Promise<string> {
  return (await cli(dev, ['tokens', 'create', name, '--scope', 'device'])).trim()
}

/**
 * Publishes a seeded two-class linear classifier over five inputs (test/helpers/onnx-model.ts) as
 * `model`'s production version, with the given signature and profile, from files written to `dir`.
 * The runtime files are pushed first, so devices can load it.
 */
export async function publishLinearModel(
  dev: WranglerDev,
  dir: string,
  options: { model: string; seed: number; signature: unknown; profile: unknown },
): Promise<void> {
  const rand = seededRandom(options.seed)
  const file = join(dir, `${options.model}.onnx`)
  writeFileSync(
    file,
    linearClassifier(
      Array.from({ length: 10 }, () => rand() - 0.5),
      [0.1, -0.1],
      5,
    ),
  )
  writeFileSync(join(dir, 'signature.json'), JSON.stringify(options.signature))
  writeFileSync(join(dir, 'profile.json'), JSON.stringify(options.profile))
  await publishProduction(dev, options.model, dir, `${options.model}.onnx`)
}

/**
 * Pushes the runtime files (so devices can load models), then publishes `model` from `dir` (its model
 * file `file`, `signature.json` and `profile.json`) with the alias `production`.
 */
export async function publishProduction(
  dev: WranglerDev,
  model: string,
  dir: string,
  file = 'model.onnx',
): Promise<void> {
  await cli(dev, ['runtime', 'push'])
  await cli(dev, [
    'publish',
    model,
    join(dir, file),
    '--signature',
    join(dir, 'signature.json'),
    '--profile',
    join(dir, 'profile.json'),
    '--alias',
    'production',
  ])
}

/** The committed demo model (`demo/models/weather`) published as `weather` in production. */
export const publishWeather = (dev: WranglerDev): Promise<void> => publishProduction(dev, 'weather', WEATHER)
