import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** A free TCP port on 127.0.0.1, as the OS hands it out. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** The admin token every e2e edge starts with. */
export const E2E_ADMIN_TOKEN = 'e2e-admin-token'

export interface WranglerDev {
  url: string
  port: number
  /** The folder holding this instance's D1/R2/DO state. */
  stateDir: string
  /**
   * Stops the server (the whole process group); the state stays unless `removeState`. `signal`
   * `SIGKILL` crashes it instead (no shutdown, requests in flight cut off), as a machine failure would.
   */
  stop(options?: { removeState?: boolean; signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>
  /** Everything the server printed, for failure messages. */
  output(): string
}

export interface WranglerDevOptions {
  /** Reuse a state folder (e.g. to restart over the same data); a fresh temp folder otherwise. */
  stateDir?: string
  /** Extra `--var NAME:VALUE` pairs (ENVIRONMENT is development and the admin token E2E_ADMIN_TOKEN unless set). */
  vars?: Record<string, string>
  port?: number
  timeoutMs?: number
}

/**
 * Starts `wrangler dev` on 127.0.0.1 at a free port (never 8787) with its own state folder, applies
 * the D1 migrations to that state first, and resolves once `/healthz` answers.
 */
export async function startWranglerDev(options: WranglerDevOptions = {}): Promise<WranglerDev> {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'edgefleet-e2e-'))
  const port = options.port ?? (await freePort())
  const inspectorPort = await freePort()
  const env = {
    ...process.env,
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_LOG_PATH: join(stateDir, 'logs'),
    NO_COLOR: '1',
  }
  const wrangler = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js')

  await run(process.execPath, [wrangler, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', stateDir], env)

  const allVars = { ENVIRONMENT: 'development', EDGEFLEET_ADMIN_TOKEN: E2E_ADMIN_TOKEN, ...options.vars }
  const vars = Object.entries(allVars).flatMap(([k, v]) => ['--var', `${k}:${v}`])
  let log = ''
  const child = spawn(
    process.execPath,
    [
      wrangler,
      'dev',
      '--local',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(inspectorPort),
      '--persist-to',
      stateDir,
      '--show-interactive-dev-session=false',
      ...vars,
    ],
    { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  child.stdout!.on('data', (d) => (log += d))
  child.stderr!.on('data', (d) => (log += d))
  const url = `http://127.0.0.1:${port}`
  const dev: WranglerDev = {
    url,
    port,
    stateDir,
    output: () => log,
    stop: async ({ removeState = false, signal = 'SIGTERM' } = {}) => {
      await killGroup(child, signal)
      if (removeState) rmSync(stateDir, { recursive: true, force: true })
    },
  }
  const deadline = Date.now() + (options.timeoutMs ?? 60_000)
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}:\n${log}`)
    try {
      // A workerd that accepted the connection but never answers must not stall the deadline.
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })
      if (res.ok) return dev
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150))
  }
  await dev.stop({ removeState: options.stateDir === undefined })
  throw new Error(`wrangler dev did not answer /healthz on ${url} in time:\n${log}`)
}

async function killGroup(child: ChildProcess, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    process.kill(-child.pid, signal)
  } catch {
    return
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // already gone
    }
  }, 5000)
  await exited
  clearTimeout(timer)
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${args.slice(1, 4).join(' ')} failed (${code}):\n${out}`)),
    )
  })
}
