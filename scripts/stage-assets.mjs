// Stages the Worker's static assets for a deployment into dist/assets: what production serves from
// public/, without what only a local edge needs. Left out: demo/config.json (the local app key that
// `npm start` writes), sdk/worker.js (the SDK carries its worker inlined) and, unless `--demo` (or
// EDGEFLEET_DEPLOY_DEMO=1), the whole demo (/demo/).
//   node scripts/stage-assets.mjs [--demo]
// `wrangler deploy --assets dist/assets` then uploads exactly this folder (`npm run build`, `npm run deploy`).
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Paths (relative to public/, `/`-separated) that never reach production. */
export const LOCAL_ONLY = ['demo/config.json', 'sdk/worker.js']

/** Copies `from` to a fresh `to` without the local-only files (and without demo/ unless `demo`); returns the files staged. */
export function stageAssets(from, to, { demo = false } = {}) {
  rmSync(to, { recursive: true, force: true })
  mkdirSync(to, { recursive: true })
  cpSync(from, to, {
    recursive: true,
    filter: (src) => {
      const path = relative(from, src).split(sep).join('/')
      if (LOCAL_ONLY.includes(path)) return false
      return demo || !(path === 'demo' || path.startsWith('demo/'))
    },
  })
  return readdirSync(to, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(to, `${e.parentPath}/${e.name}`).split(sep).join('/'))
    .sort()
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const demo = process.argv.includes('--demo') || process.env.EDGEFLEET_DEPLOY_DEMO === '1'
  if (!existsSync(`${root}public/sdk/edgefleet.js`)) {
    console.error('stage-assets: public/sdk/edgefleet.js is missing: run `npm run build:sdk` first')
    process.exit(1)
  }
  const files = stageAssets(`${root}public`, `${root}dist/assets`, { demo })
  console.log(
    `assets: ${files.length} files staged in dist/assets${demo ? ' (with the demo)' : ' (no demo: --demo adds it)'}`,
  )
}
