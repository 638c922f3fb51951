import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { E2E_ADMIN_TOKEN, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

const bin = fileURLToPath(new URL('../../bin/edgefleet.js', import.meta.url))

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
