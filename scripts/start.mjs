// `npm start`: the whole of edgefleet on one local `wrangler dev` (http://127.0.0.1:8787), on the
// embedded Miniflare state under .wrangler/state. Builds the SDK if its sources changed, applies D1
// migrations, serves, and on an empty registry seeds the demo: the pinned engine runtime files, the
// `weather` and `vad` models (alias production) and an app key for the demo page at /demo/.
//   PORT=8788 EDGEFLEET_STATE_DIR=/tmp/ef node scripts/start.mjs   (tests: never 8787, never .wrangler/state)
// Options: --simulate[=scenario] also runs a small simulated fleet (sim/, default scenario drift, 6
// devices for 10 minutes) so the dashboard has something to show; --min-devices N lowers the fleet
// view's k-anonymity threshold (TELEMETRY_MIN_DEVICES, 5 by default) for this local edge.
import { spawn, spawnSync } from 'node:child_process'
import { connect } from 'node:net'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const port = process.env.PORT ?? '8787'
const stateOverride = process.env.EDGEFLEET_STATE_DIR ? resolve(process.env.EDGEFLEET_STATE_DIR) : undefined
const stateDir = stateOverride ?? join(root, '.wrangler', 'state')
// The app key belongs with the state it was created in: a fresh state gets a fresh key.
const keyFile = stateOverride ? join(stateOverride, 'demo-app-key') : join(root, '.wrangler', 'demo-app-key')
const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_LOG_PATH: process.env.WRANGLER_LOG_PATH ?? join(stateOverride ?? join(root, '.wrangler'), 'logs'),
}
const wrangler = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js')
const persist = stateOverride ? ['--persist-to', stateOverride] : []
const url = `http://127.0.0.1:${port}`
const args = process.argv.slice(2)
const simulateArg = args.find((a) => a === '--simulate' || a.startsWith('--simulate='))
const simulateScenario = simulateArg ? (simulateArg.split('=')[1] ?? 'drift') : null
const minDevicesAt = args.indexOf('--min-devices')
const minDevices = minDevicesAt >= 0 ? args[minDevicesAt + 1] : undefined
if (minDevices !== undefined && !/^[1-9][0-9]*$/.test(minDevices)) {
  console.error('edgefleet: --min-devices takes a whole number ≥ 1')
  process.exit(2)
}
const SIMULATED_DEVICES = process.env.SIMULATE_DEVICES ?? '6'
const SIMULATED_MINUTES = process.env.SIMULATE_MINUTES ?? '10'

// The published local default; the Worker refuses it when ENVIRONMENT is "production".
const DEV_ADMIN_TOKEN = 'ef_dev_admin_token_local_only'
const adminToken = process.env.EDGEFLEET_ADMIN_TOKEN || DEV_ADMIN_TOKEN

// Another process on the port (often another edge) would answer our health check and take the seed:
// stop before anything is built, seeded or started.
if (await portInUse(Number(port))) {
  console.error(
    `edgefleet: port ${port} on 127.0.0.1 is already in use (another edge?): stop it, or start on another port: PORT=8788 npm start`,
  )
  process.exit(1)
}

const build = spawnSync(process.execPath, [join(root, 'scripts', 'build-sdk.mjs'), '--if-stale'], {
  cwd: root,
  stdio: 'inherit',
})
if (build.status !== 0) process.exit(build.status ?? 1)
const migrate = spawnSync(process.execPath, [wrangler, 'd1', 'migrations', 'apply', 'DB', '--local', ...persist], {
  cwd: root,
  env,
  encoding: 'utf8',
})
if (migrate.status !== 0) {
  // Quiet when it works; everything wrangler said when it does not.
  process.stderr.write(`${migrate.stdout ?? ''}${migrate.stderr ?? ''}`)
  process.exit(migrate.status ?? 1)
}
const applied = (migrate.stdout.match(/\d{4}_\w+\.sql\s*│\s*✅/g) ?? []).length
console.log(applied > 0 ? `D1 migrations applied` : 'D1 migrations: up to date')

console.log(`\nedgefleet is starting on ${url}`)
const vars = ['--var', 'ENVIRONMENT:development', '--var', `EDGEFLEET_ADMIN_TOKEN:${adminToken}`]
if (minDevices) vars.push('--var', `TELEMETRY_MIN_DEVICES:${minDevices}`)
const inspector = process.env.INSPECTOR_PORT ? ['--inspector-port', process.env.INSPECTOR_PORT] : []
const dev = spawn(
  process.execPath,
  [
    wrangler,
    'dev',
    '--local',
    '--ip',
    '127.0.0.1',
    '--port',
    port,
    ...inspector,
    ...persist,
    '--show-interactive-dev-session=false',
    ...vars,
  ],
  { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
)
const devLog = quietWrangler(dev)
/** The simulated fleet of --simulate, once started. */
let fleet = null
for (const signal of ['SIGINT', 'SIGTERM'])
  process.on(signal, () => {
    fleet?.kill(signal)
    dev.kill(signal)
  })
// A failed set-up (exitCode 1) outlives wrangler's own clean exit after we stop it.
dev.on('exit', (code, signal) => process.exit(process.exitCode || (code ?? (signal ? 1 : 0))))

try {
  await waitForHealth(120_000)
  const seeded = await seedIfEmpty()
  const appKey = await demoAppKey()
  // The demo page reads its key from config.json; only the default state writes it, so a test's edge
  // (EDGEFLEET_STATE_DIR) never overwrites the key of the developer's own edge. Others pass #key=.
  const demo = stateOverride ? `${url}/demo/#key=${appKey}` : `${url}/demo/`
  if (!stateOverride) writeFileSync(join(root, 'public', 'demo', 'config.json'), `${JSON.stringify({ appKey })}\n`)
  const models = (await api('/v1/models')).models.map(
    (m) =>
      `${m.name} v${m.latestVersion}${Object.keys(m.aliases).length ? ` (${Object.keys(m.aliases).join(', ')})` : ''}`,
  )
  console.log(`
edgefleet is ready on ${url}${seeded ? ' (demo models seeded)' : ''}
  home        ${url}/
  demo        ${demo}
  dashboard   ${url}/dashboard/   (sign in with the token printed below)
  API         ${url}/v1   (its routes as JSON; reference ${url}/api/, OpenAPI ${url}/openapi.json)
  health      ${url}/healthz
  SDK         ${url}/sdk/edgefleet.js
  models      ${models.join(', ') || 'none'}
  admin token ${adminToken}${adminToken === DEV_ADMIN_TOKEN ? '   (local default; set EDGEFLEET_ADMIN_TOKEN to choose one)' : ''}
  app key     ${appKey}   (scope device, for the demo; kept in ${keyFile})
  CLI         export EDGEFLEET_URL=${url} EDGEFLEET_TOKEN=${adminToken}
  state       ${stateDir}
`)
  devLog.ready()
  if (simulateScenario) startFleet(simulateScenario, appKey)
} catch (e) {
  devLog.dump()
  console.error(`edgefleet: ${e instanceof Error ? e.message : e}`)
  dev.kill('SIGTERM')
  process.exitCode = 1
}

/** Whether something on this machine already listens on 127.0.0.1:`port`. */
function portInUse(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/**
 * wrangler dev's output, quiet until the ready banner: its own banner, binding table and request logs
 * of the seeding are held back (shown only if start-up fails), errors go through at once, and the
 * noise of a machine without internet (the `Request.cf` fetch failing with ENOTFOUND, its stack) and
 * the update notice are dropped. After the banner, request logs and errors go through as wrangler writes them.
 */
function quietWrangler(child) {
  const held = []
  let quiet = true
  let inStack = false
  const noise = (line) => {
    if (/Request\.cf|ENOTFOUND|getaddrinfo|update available/.test(line)) return (inStack = true)
    if (inStack && /^\s+at /.test(line)) return true
    inStack = false
    return false
  }
  const onLines = (stream, out) => {
    let rest = ''
    stream.on('data', (d) => {
      const lines = (rest + d).split('\n')
      rest = lines.pop()
      for (const line of lines) {
        if (noise(line)) continue
        if (!quiet || /✘|\bERROR\b|^Error/.test(line)) out.write(`${line}\n`)
        else held.push(line)
      }
    })
  }
  onLines(child.stdout, process.stdout)
  onLines(child.stderr, process.stderr)
  return {
    ready: () => (quiet = false),
    dump: () =>
      process.stderr.write(
        held
          .slice(-60)
          .map((l) => `${l}\n`)
          .join(''),
      ),
  }
}

/** Runs `npm run simulate` against this edge in the background, its lines prefixed with [fleet]. */
function startFleet(scenario, appKey) {
  console.log(
    `starting a simulated fleet: ${SIMULATED_DEVICES} devices, scenario ${scenario}, ${SIMULATED_MINUTES} minutes (SIMULATE_DEVICES, SIMULATE_MINUTES)`,
  )
  fleet = spawn(
    process.execPath,
    [
      join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
      join(root, 'scripts', 'simulate.ts'),
      ...['--url', url, '--token', adminToken, '--app-key', appKey, '--scenario', scenario],
      ...['--devices', SIMULATED_DEVICES, '--minutes', SIMULATED_MINUTES, '--concurrency', '3'],
    ],
    { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const prefix = (stream, out) => {
    let rest = ''
    stream.on('data', (d) => {
      const lines = (rest + d).split('\n')
      rest = lines.pop()
      for (const line of lines) out.write(`[fleet] ${line}\n`)
    })
  }
  prefix(fleet.stdout, process.stdout)
  prefix(fleet.stderr, process.stderr)
  fleet.on('exit', (code) => console.log(`[fleet] the simulated fleet ${code === 0 ? 'is done' : `exited ${code}`}`))
}

async function waitForHealth(timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (dev.exitCode !== null) throw new Error(`wrangler dev exited with ${dev.exitCode}`)
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })
      if (res.ok) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`${url}/healthz did not answer within ${timeoutMs / 1000} s`)
}

/** An admin call to the local edge; throws on anything but 2xx. */
async function api(path, init = {}) {
  const res = await fetch(`${url}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${adminToken}`, ...init.headers },
  })
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`)
  return res.json()
}

/** Runs the edgefleet CLI against the local edge as the admin; resolves with its stdout. */
function cli(args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'edgefleet.js'), ...args], {
      cwd: root,
      env: { ...process.env, EDGEFLEET_URL: url, EDGEFLEET_TOKEN: adminToken },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('exit', (code) =>
      code === 0
        ? resolvePromise(out)
        : reject(new Error(`edgefleet ${args.slice(0, 2).join(' ')} failed (exit ${code})`)),
    )
  })
}

/** On an empty registry: the runtime files, then weather and vad as version 1, alias production. */
async function seedIfEmpty() {
  if ((await api('/v1/models')).models.length > 0) return false
  console.log('\nseeding the empty registry with the demo models…')
  process.stdout.write(await cli(['runtime', 'push']))
  const weather = join(root, 'demo', 'models', 'weather')
  const metrics = Object.entries(JSON.parse(readFileSync(join(weather, 'metrics.json'), 'utf8'))).flatMap(([k, v]) => [
    '--metric',
    `${k}=${v}`,
  ])
  process.stdout.write(
    await cli([
      'publish',
      'weather',
      join(weather, 'model.onnx'),
      '--task',
      'classification',
      '--description',
      "Seattle's weather of the day (drizzle, fog, rain, snow, sun) from precipitation, temperatures and wind; LDA trained on 2012",
      '--signature',
      join(weather, 'signature.json'),
      '--profile',
      join(weather, 'profile.json'),
      ...metrics,
      '--alias',
      'production',
    ]),
  )
  process.stdout.write(
    await cli([
      'publish',
      'vad',
      join(root, 'node_modules', '@ricky0123', 'vad-web', 'dist', 'silero_vad_v5.onnx'),
      '--task',
      'voice-activity-detection',
      '--description',
      'Silero VAD v5: speech probability of 512-sample 16 kHz audio frames',
      '--alias',
      'production',
    ]),
  )
  return true
}

/** The demo's app key (scope device): the stored one while the edge still accepts it, else a new one. */
async function demoAppKey() {
  if (existsSync(keyFile)) {
    const key = readFileSync(keyFile, 'utf8').trim()
    // An unknown artifact with a valid key is a 404; with an unknown key, a 401.
    const res = await fetch(`${url}/v1/artifacts/${'0'.repeat(64)}`, {
      method: 'HEAD',
      headers: { 'X-Edgefleet-Key': key },
    })
    if (res.status !== 401 && res.status !== 403) return key
  }
  const created = await api('/v1/tokens', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'demo', scopes: ['device'] }),
  })
  mkdirSync(dirname(keyFile), { recursive: true })
  writeFileSync(keyFile, `${created.token}\n`, { mode: 0o600 })
  return created.token
}
