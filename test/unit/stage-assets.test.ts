// What a deployment uploads: scripts/stage-assets.mjs copies public/ into the folder `wrangler deploy
// --assets` reads, without the local app key, the unused worker bundle, and the demo unless asked.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
// @ts-expect-error: a plain .mjs script without declarations
import { stageAssets } from '../../scripts/stage-assets.mjs'

const stage = stageAssets as (from: string, to: string, options?: { demo?: boolean }) => string[]
const dirs: string[] = []
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })))

/** A public/ folder as a local edge leaves it after `npm start`. */
function localPublic(): { from: string; to: string } {
  const base = mkdtempSync(join(tmpdir(), 'edgefleet-assets-'))
  dirs.push(base)
  const from = join(base, 'public')
  for (const file of [
    'index.html',
    'api/index.html',
    'api/scalar.js',
    'sdk/edgefleet.js',
    'sdk/worker.js',
    'dashboard/index.html',
    'demo/index.html',
    'demo/app.js',
    'demo/config.json',
    'demo/data/seattle-weather-2015.json',
  ]) {
    mkdirSync(dirname(join(from, file)), { recursive: true })
    writeFileSync(join(from, file), file === 'demo/config.json' ? '{"appKey":"ef_local"}' : file)
  }
  return { from, to: join(base, 'dist', 'assets') }
}

describe('stageAssets', () => {
  it('leaves out the local app key, the unused worker bundle and the demo', () => {
    const { from, to } = localPublic()
    expect(stage(from, to)).toEqual([
      'api/index.html',
      'api/scalar.js',
      'dashboard/index.html',
      'index.html',
      'sdk/edgefleet.js',
    ])
  })

  it('adds the demo when asked, still without the local app key', () => {
    const { from, to } = localPublic()
    const files = stage(from, to, { demo: true })
    expect(files).toContain('demo/index.html')
    expect(files).toContain('demo/data/seattle-weather-2015.json')
    expect(files).not.toContain('demo/config.json')
    expect(files).not.toContain('sdk/worker.js')
  })

  it('is what `npm run build` hands to the dry run', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    expect(pkg.scripts.build).toMatch(/scripts\/stage-assets\.mjs && wrangler deploy --dry-run .*--assets dist\/assets/)
  })
})
