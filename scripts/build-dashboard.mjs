// Builds the dashboard (dashboard/) into public/dashboard/ (git-ignored), the Worker's static assets,
// so the edge serves it at /dashboard/. Views are split into chunks loaded when first shown. The
// folder is updated in place (scripts/lib/sync-files.mjs): a build while an edge serves it never
// takes a file away from a loading page, and an unchanged build writes nothing.
//   node scripts/build-dashboard.mjs
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'
import { syncFiles } from './lib/sync-files.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = `${root}public/dashboard`

/** Builds the dashboard and returns its files' raw and gzip sizes in bytes. */
export async function buildDashboard() {
  const built = await esbuild.build({
    entryPoints: [`${root}dashboard/main.ts`, `${root}dashboard/main.css`],
    outdir: out,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    splitting: true,
    chunkNames: 'chunk-[hash]',
    legalComments: 'eof',
    logLevel: 'warning',
    write: false,
  })
  const files = new Map(built.outputFiles.map((f) => [relative(out, f.path), Buffer.from(f.contents)]))
  files.set('index.html', readFileSync(`${root}dashboard/index.html`))
  syncFiles(out, files)
  return [...files].map(([file, bytes]) => ({ file, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length }))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await buildDashboard()
  const total = files.reduce((a, f) => a + f.gzip, 0)
  console.log(`dashboard: ${out} ${files.length} files, ${(total / 1024).toFixed(1)} KB gzip in all`)
}
