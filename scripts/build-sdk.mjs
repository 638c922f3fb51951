// Builds the browser SDK into dist/sdk/: the self-contained worker bundle, inlined as a string into
// a lazily imported chunk of the client module (so `new Worker(new URL(...))` inside node_modules,
// which bundlers mishandle, is never needed), plus type declarations.
//   node scripts/build-sdk.mjs
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = `${root}dist/sdk`
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })

const common = { bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minify: true, legalComments: 'eof', logLevel: 'warning' }

const worker = await esbuild.build({ ...common, entryPoints: [`${root}worker/index.ts`], write: false, outfile: 'worker.js' })
const workerCode = worker.outputFiles[0].text

/** Replaces the empty placeholder with the worker bundle's source. */
const inlineWorker = {
  name: 'inline-worker',
  setup(build) {
    build.onLoad({ filter: /client[\\/]worker-source\.ts$/ }, () => ({ contents: `export default ${JSON.stringify(workerCode)}`, loader: 'js' }))
  },
}
await esbuild.build({
  ...common,
  entryPoints: { edgefleet: `${root}client/index.ts` },
  outdir: out,
  splitting: true,
  chunkNames: 'edgefleet-[name]-[hash]',
  plugins: [inlineWorker],
})

const tsc = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.sdk.json`], { stdio: 'inherit' })
if (tsc.status !== 0) process.exit(tsc.status ?? 1)
// Declarations keep the sources' `.ts` specifiers; consumers resolve `.js` to the `.d.ts` beside it.
for (const file of readdirSync(`${out}/types`, { recursive: true })) {
  const path = `${out}/types/${file}`
  if (!path.endsWith('.d.ts')) continue
  writeFileSync(path, readFileSync(path, 'utf8').replace(/(from\s+'[^']+)\.ts'/g, "$1.js'").replace(/(import\('[^']+)\.ts'\)/g, "$1.js')"))
}

const size = (file) => {
  const bytes = readFileSync(file)
  return `${(bytes.length / 1024).toFixed(1)} KB (${(gzipSync(bytes, { level: 9 }).length / 1024).toFixed(1)} KB gzip)`
}
writeFileSync(`${out}/worker.js`, workerCode)
console.log(`sdk: ${out}/edgefleet.js ${size(`${out}/edgefleet.js`)}; worker ${size(`${out}/worker.js`)}`)
