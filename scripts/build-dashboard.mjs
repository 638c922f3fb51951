// Builds the dashboard (dashboard/) into public/dashboard/ (git-ignored), the Worker's static assets,
// so the edge serves it at /dashboard/. Views are split into chunks loaded when first shown.
//   node scripts/build-dashboard.mjs
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = `${root}public/dashboard`

/** Builds the dashboard and returns its files' raw and gzip sizes in bytes. */
export async function buildDashboard() {
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  await esbuild.build({
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
  })
  copyFileSync(`${root}dashboard/index.html`, `${out}/index.html`)
  const files = readdirSync(out).map((f) => {
    const bytes = readFileSync(`${out}/${f}`)
    return { file: f, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length }
  })
  return files
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await buildDashboard()
  const total = files.reduce((a, f) => a + f.gzip, 0)
  console.log(`dashboard: ${out} ${files.length} files, ${(total / 1024).toFixed(1)} KB gzip in all`)
}
