// The real `edgefleet` CLI, run as a child process against a real `wrangler dev`, publishing real
// models: Silero VAD v5 (ONNX) and the liveness model of @vladmandic/human (a tfjs graph model with
// one weight shard). Every byte is fetched back over HTTP and compared.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seededRandom } from '../../scripts/lib/random.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev, type WranglerDev } from '../../scripts/lib/wrangler-dev.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(root, 'bin', 'edgefleet.js')
const vad = join(root, 'node_modules', '@ricky0123', 'vad-web', 'dist', 'silero_vad_v5.onnx')
const liveness = join(root, 'node_modules', '@vladmandic', 'human', 'models', 'liveness.json')
const livenessBin = join(root, 'node_modules', '@vladmandic', 'human', 'models', 'liveness.bin')

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

interface Run {
  status: number | null
  stdout: string
  stderr: string
}

let dev: WranglerDev
const CLI_TIMEOUT_MS = 30_000

/** Runs `node bin/edgefleet.js …` against the dev edge, as a user would (admin token unless given). */
function edgefleet(args: string[], token = E2E_ADMIN_TOKEN): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, EDGEFLEET_URL: dev.url, EDGEFLEET_TOKEN: token, NO_COLOR: '1' }
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    // A stuck run fails with what it printed instead of running into the test timeout.
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${CLI_TIMEOUT_MS} ms: edgefleet ${args.join(' ')}]\n[wrangler dev]\n${dev.output().slice(-2000)}`
      child.kill('SIGKILL')
    }, CLI_TIMEOUT_MS)
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  })
}

function ok(r: Run): Run {
  expect(r.status, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0)
  return r
}

function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  return fetch(new URL(path, dev.url), { method, headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}`, ...headers } })
}

async function manifestOf(model: string, version: number): Promise<any> {
  const res = await get(`/v1/models/${model}/versions/${version}`)
  expect(res.status).toBe(200)
  return res.json()
}

beforeAll(async () => {
  dev = await startWranglerDev()
})

afterAll(async () => {
  await dev?.stop({ removeState: true })
})

describe('edgefleet publish against wrangler dev', () => {
  it('publishes an ONNX model and a tfjs graph model; every file downloads back byte for byte', async () => {
    const [onnx, tfjs] = await Promise.all([
      edgefleet([
        'publish',
        'vad',
        vad,
        '--format',
        'onnx',
        '--task',
        'vad',
        '--metric',
        'auc=0.97',
        '--code-commit',
        'abc123',
      ]),
      edgefleet(['publish', 'liveness', liveness, '--format', 'tfjs-graph']),
    ])
    expect(ok(onnx).stdout).toBe('published vad v1 (1 file, 2.33 MB, 1 uploaded, 0 already stored)\n')
    expect(ok(tfjs).stdout).toBe('published liveness v1 (2 files, 610 kB, 2 uploaded, 0 already stored)\n')
    expect(tfjs.stderr).toContain('uploaded        liveness.bin (593 kB)')

    const expected: Record<string, Record<string, string>> = {
      vad: { 'silero_vad_v5.onnx': vad },
      liveness: { 'model.json': liveness, 'liveness.bin': livenessBin },
    }
    for (const [model, files] of Object.entries(expected)) {
      const m = await manifestOf(model, 1)
      expect(m.files.map((f: any) => f.path).sort()).toEqual(Object.keys(files).sort())
      for (const f of m.files) {
        const local = readFileSync(files[f.path])
        const res = await fetch(f.url, { headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` } })
        expect(res.status).toBe(200)
        const bytes = new Uint8Array(await res.arrayBuffer())
        expect(bytes.length).toBe(local.length)
        expect(sha256(bytes)).toBe(sha256(local))
        expect(f.sha256).toBe(sha256(local))
      }
    }
    const m = await manifestOf('vad', 1)
    expect(m).toMatchObject({
      format: 'onnx',
      metrics: { auc: 0.97 },
      lineage: { codeCommit: 'abc123', createdBy: 'admin' },
    })
    expect((await manifestOf('liveness', 1)).format).toBe('tfjs-graph')
  })

  it('serves a byte range with 206 and answers a cross-origin preflight for an artifact', async () => {
    const local = readFileSync(livenessBin)
    const hash = sha256(local)
    const range = await get(`/v1/artifacts/${hash}`, { Range: 'bytes=1000-1999' })
    expect(range.status).toBe(206)
    expect(range.headers.get('Content-Range')).toBe(`bytes 1000-1999/${local.length}`)
    expect(Buffer.from(await range.arrayBuffer()).equals(local.subarray(1000, 2000))).toBe(true)

    const preflight = await fetch(`${dev.url}/v1/artifacts/${hash}`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example.com',
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'x-edgefleet-key',
      },
    })
    expect(preflight.status).toBeLessThan(300)
    expect(preflight.headers.get('Access-Control-Allow-Origin')).toBe('https://app.example.com')
    expect(preflight.headers.get('Access-Control-Allow-Headers')?.toLowerCase()).toContain('x-edgefleet-key')
  })

  it('refuses an upload whose bytes do not hash to its name, and stores nothing', async () => {
    const rand = seededRandom(7)
    const bytes = Uint8Array.from({ length: 50_000 }, () => Math.floor(rand() * 256))
    const hash = sha256(bytes)
    const tampered = bytes.slice()
    tampered[12_345] ^= 0xff
    const put = await fetch(`${dev.url}/v1/artifacts/${hash}`, {
      method: 'PUT',
      body: tampered,
      headers: {
        Authorization: `Bearer ${E2E_ADMIN_TOKEN}`,
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(tampered.length),
      },
    })
    expect(put.status).toBe(400)
    expect(((await put.json()) as { error: { code: string } }).error.code).toBe('hash_mismatch')
    expect((await get(`/v1/artifacts/${hash}`)).status).toBe(404)
  })

  // CLI runs cost a Node start each, so independent ones run side by side, stage by stage.
  it('republishes without uploading, and runs alias, deprecate, versions, models, events and tokens', async () => {
    const [again, created, staging] = await Promise.all([
      edgefleet(['publish', 'vad', vad, '--parent', '1', '--alias', 'production']),
      edgefleet(['tokens', 'create', 'ci', '--scope', 'registry:read,registry:write']),
      edgefleet(['alias', 'vad', 'staging', 'v1']),
    ])
    // The same bytes again: nothing uploaded, a new version.
    expect(ok(again).stdout).toBe(
      'published vad v2 (1 file, 2.33 MB, 0 uploaded, 1 already stored)\nvad production → v2\n',
    )
    expect(again.stderr).toContain('already stored  silero_vad_v5.onnx')
    expect((await manifestOf('vad', 2)).lineage.parent).toBe(1)
    expect(ok(staging).stdout).toBe('vad staging → v1 (new alias)\n')
    const secret = ok(created).stdout.trim()
    expect(secret).toMatch(/^ef_[A-Za-z0-9_-]{43}$/)
    expect(created.stderr).toMatch(
      /^created (tok_[0-9a-f]{16}) "ci" \(registry:read, registry:write\)\nwarning: .*only time/,
    )
    const id = /tok_[0-9a-f]{16}/.exec(created.stderr)![0]

    const [moved, withSecret, tokenList] = await Promise.all([
      edgefleet(['alias', 'vad', 'staging', '2']),
      edgefleet(['models'], secret),
      edgefleet(['tokens', 'list']),
    ])
    expect(ok(moved).stdout).toBe('vad staging → v2 (was v1)\n')
    expect(ok(withSecret).stdout).toMatch(/^vad\s/m)
    // Listed while the token is first used, so "last used" may still be "-".
    expect(ok(tokenList).stdout).toMatch(
      new RegExp(`^${id}\\s+ci\\s+registry:read,registry:write\\s+\\S+Z\\s+(\\S+Z|-)\\s+active$`, 'm'),
    )
    expect(tokenList.stdout).not.toContain(secret)

    const [dep1, dep2, revoked] = await Promise.all([
      edgefleet(['deprecate', 'vad', '1']),
      edgefleet(['deprecate', 'vad', '2']),
      edgefleet(['tokens', 'revoke', id]),
    ])
    expect(ok(dep1).stdout).toBe('deprecated vad v1\n')
    expect(dep2.status).toBe(1)
    expect(dep2.stdout).toBe('')
    expect(dep2.stderr).toMatch(
      /^edgefleet: conflict: version 2 is aliased as [a-z,\s]+; move the alias first \(at \/deprecated\)\n$/,
    )
    expect(ok(revoked).stdout).toBe(`revoked ${id} "ci"\n`)

    const [table, models, events, refused, tokenEvents] = await Promise.all([
      edgefleet(['versions', 'vad']),
      edgefleet(['models']),
      edgefleet(['events', '--model', 'vad']),
      edgefleet(['models'], secret),
      edgefleet(['events', '--type', 'token.*', '--json']),
    ])
    const rows = ok(table).stdout.trimEnd().split('\n')
    expect(rows[0]).toMatch(/^version\s+files\s+size\s+created\s+by\s+parent\s+aliases\s+deprecated\s+metrics$/)
    expect(rows[2]).toMatch(/^\s*v2\s+1\s+2\.33 MB\s+\S+Z\s+admin\s+v1\s+(production,staging|staging,production)\s*$/)
    expect(rows[3]).toMatch(/^\s*v1\s+1\s+2\.33 MB\s+\S+Z\s+admin\s+-\s+yes\s+auc=0\.97$/)
    expect(ok(models).stdout).toMatch(/^liveness\s+tfjs-graph\s+generic\s+v1\s*$/m)
    expect(models.stdout).toMatch(/^vad\s+onnx\s+vad\s+v2\s+(production=v2, staging=v2|staging=v2, production=v2)$/m)

    const lines = ok(events).stdout.trimEnd().split('\n')
    expect(lines.map((l) => l.split(/\s+/)[1]).sort()).toEqual([
      'alias.moved',
      'alias.moved',
      'alias.moved',
      'model.created',
      'version.deprecated',
      'version.published',
      'version.published',
    ])
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\s+model\.created\s+vad\s+admin\s+format=onnx task=vad$/,
    )
    expect(lines).toContainEqual(expect.stringMatching(/version\.published\s+vad\s+admin\s+v2 \(1 file, parent v1\)$/))
    expect(lines).toContainEqual(expect.stringMatching(/alias\.moved\s+vad\s+admin\s+staging v1 → v2$/))

    // A revoked token is refused on its next use.
    expect(refused.status).toBe(1)
    expect(refused.stderr).toBe('edgefleet: unauthorized: the token is unknown or revoked\n')
    expect(
      ok(tokenEvents)
        .stdout.trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l))
        .map((e) => [e.type, e.details.id]),
    ).toEqual([
      ['token.created', id],
      ['token.revoked', id],
    ])
  })

  it('keys create, publish --sign and verify: a signed version verifies with its key and not with another', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefleet-keys-'))
    const keys = JSON.parse(ok(await edgefleet(['keys', 'create', '--out', join(dir, 'acme'), '--json'])).stdout)
    expect(statSync(keys.privatePath).mode & 0o777).toBe(0o600)
    const pub = readFileSync(keys.publicPath, 'utf8')
    expect(keys.hint).toBe(sha256(new TextEncoder().encode(pub)))
    // Keys are never overwritten.
    const again = await edgefleet(['keys', 'create', '--out', join(dir, 'acme')])
    expect(again.status).toBe(1)
    expect(again.stderr).toMatch(/already exists/)
    ok(await edgefleet(['keys', 'create', '--out', join(dir, 'other')]))

    const published = JSON.parse(
      ok(await edgefleet(['publish', 'signed-vad', vad, '--sign', keys.privatePath, '--json'])).stdout,
    )
    expect(published.sigstoreBundle.verificationMaterial.publicKey.hint).toBe(keys.hint)
    const verified = ok(await edgefleet(['verify', 'signed-vad', String(published.version), '--key', keys.publicPath]))
    expect(verified.stdout).toMatch(/the bytes served are the bytes signed/)
    const json = JSON.parse(
      ok(await edgefleet(['verify', 'signed-vad', String(published.version), '--key', keys.publicPath, '--json']))
        .stdout,
    )
    expect(json.files).toEqual([
      { path: 'silero_vad_v5.onnx', size: readFileSync(vad).length, sha256: sha256(readFileSync(vad)), ok: true },
    ])
    const wrongKey = await edgefleet([
      'verify',
      'signed-vad',
      String(published.version),
      '--key',
      join(dir, 'other.pub.pem'),
    ])
    expect(wrongKey.status).toBe(1)
    expect(wrongKey.stderr).toMatch(/signature_error|another key/)
    // An unsigned version, and a key file that is not a key.
    const unsigned = JSON.parse(ok(await edgefleet(['publish', 'signed-vad', vad, '--json'])).stdout)
    const refused = await edgefleet(['verify', 'signed-vad', String(unsigned.version), '--key', keys.publicPath])
    expect(refused.status).toBe(1)
    expect(refused.stderr).toMatch(/is not signed/)
    const notAKey = await edgefleet(['publish', 'signed-vad', vad, '--sign', vad])
    expect(notAKey.status).toBe(1)
    expect(notAKey.stderr).toMatch(/not an unencrypted PEM private key/)
  })
})
