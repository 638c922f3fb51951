// `npm start`: the whole of edgefleet on one local `wrangler dev` (http://127.0.0.1:8787), on the
// embedded Miniflare state under .wrangler/state. Applies D1 migrations first, then serves.
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const port = process.env.PORT ?? '8787'
const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_LOG_PATH: process.env.WRANGLER_LOG_PATH ?? `${root}.wrangler/logs`,
}
const wrangler = [fileURLToPath(new URL('../node_modules/wrangler/bin/wrangler.js', import.meta.url))]

const migrate = spawnSync(process.execPath, [...wrangler, 'd1', 'migrations', 'apply', 'DB', '--local'], { cwd: root, env, stdio: 'inherit' })
if (migrate.status !== 0) process.exit(migrate.status ?? 1)

// The published local default; the Worker refuses it when ENVIRONMENT is "production".
const DEV_ADMIN_TOKEN = 'ef_dev_admin_token_local_only'
const adminToken = process.env.EDGEFLEET_ADMIN_TOKEN || DEV_ADMIN_TOKEN

const url = `http://127.0.0.1:${port}`
console.log(`\nedgefleet is starting on ${url}`)
console.log(`  health      ${url}/healthz`)
console.log(`  API         ${url}/v1   (OpenAPI: ${url}/openapi.json)`)
console.log(`  admin token ${adminToken}${adminToken === DEV_ADMIN_TOKEN ? '   (local default; set EDGEFLEET_ADMIN_TOKEN to choose one)' : ''}`)
console.log(`  CLI         export EDGEFLEET_URL=${url} EDGEFLEET_TOKEN=${adminToken}`)
console.log(`  state       ${root}.wrangler/state\n`)

const vars = ['--var', 'ENVIRONMENT:development', '--var', `EDGEFLEET_ADMIN_TOKEN:${adminToken}`]
const dev = spawn(process.execPath, [...wrangler, 'dev', '--local', '--ip', '127.0.0.1', '--port', port, '--show-interactive-dev-session=false', ...vars], { cwd: root, env, stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => dev.kill(signal))
dev.on('exit', (code) => process.exit(code ?? 0))
