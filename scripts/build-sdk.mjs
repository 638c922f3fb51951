// Builds the browser SDK into dist/sdk/ and the @edgefleet/client package (client/dist/): the
// self-contained worker bundle, inlined as a string into a lazily imported chunk of the client module (so `new Worker(new URL(...))` inside node_modules,
// which bundlers mishandle, is never needed), plus type declarations. The modules are also copied to
// public/sdk/ (git-ignored), the Worker's static assets, so the edge serves them at /sdk/edgefleet.js.
//   node scripts/build-sdk.mjs              always
//   node scripts/build-sdk.mjs --if-stale   only when a built file is missing or older than a source
import { spawnSync } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'
import { buildDashboard } from './build-dashboard.mjs'
import { readTree, syncFiles } from './lib/sync-files.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = `${root}dist/sdk`
// Touched after every build: outputs whose bytes did not change keep their times (scripts/lib/sync-files.mjs).
const stamp = `${root}dist/.sdk-built`

// The dashboard (public/dashboard/) is rebuilt every time: it takes well under a second.
const dashboard = await buildDashboard()
console.log(
  `dashboard: public/dashboard/ ${(dashboard.reduce((a, f) => a + f.gzip, 0) / 1024).toFixed(1)} KB gzip in all`,
)

// The API reference page (public/api/index.html) runs Scalar's standalone bundle, served from here
// (never a CDN); copied whenever missing or from another version of the pinned package.
const scalar = `${root}node_modules/@scalar/api-reference/dist/browser/standalone.js`
const scalarCopy = `${root}public/api/scalar.js`
if (existsSync(scalar) && (!existsSync(scalarCopy) || statSync(scalarCopy).size !== statSync(scalar).size))
  copyFileSync(scalar, scalarCopy)

if (process.argv.includes('--if-stale')) {
  const sources = ['client', 'worker', 'core']
    .flatMap((d) =>
      readdirSync(`${root}${d}`, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && !e.parentPath.includes(`${d}/dist`))
        .map((e) => `${e.parentPath}/${e.name}`),
    )
    .concat(fileURLToPath(import.meta.url), `${root}package-lock.json`)
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs))
  const built = [`${out}/edgefleet.js`, `${root}public/sdk/edgefleet.js`, `${root}client/dist/edgefleet.js`]
  if (built.every((f) => existsSync(f)) && existsSync(stamp) && statSync(stamp).mtimeMs >= newest) process.exit(0)
}
// Everything is built in a folder of its own, then synced into dist/sdk, public/sdk and client/dist:
// a page or an edge serving those while this runs never finds a file missing or half written.
const stage = mkdtempSync(join(tmpdir(), 'edgefleet-sdk-'))
process.on('exit', () => rmSync(stage, { recursive: true, force: true }))

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'eof',
  logLevel: 'warning',
}

/** The worker's own import of the tfjs engine, replaced in the bundle: the engine ships as its own module. */
const tfjsEngineApart = {
  name: 'tfjs-engine-apart',
  setup(build) {
    build.onResolve({ filter: /^\.\/tfjs\.ts$/ }, (args) =>
      /engines[\\/]tfjs-engine\.ts$/.test(args.importer) ? { path: 'tfjs-engine-stub', namespace: 'stub' } : undefined,
    )
    build.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents:
        "throw new Error('this worker bundle takes the TensorFlow.js engine from the SDK (LoadRequest.tfjsEngine)')",
      loader: 'js',
    }))
  },
}

/** onnxruntime-web's WebGPU build, left out of the worker bundle: it travels with the WebGPU runtime files. */
const ortWebgpuApart = {
  name: 'ort-webgpu-apart',
  setup(build) {
    build.onResolve({ filter: /^onnxruntime-web\/webgpu$/ }, () => ({ path: 'ort-webgpu', namespace: 'ort-stub' }))
    build.onLoad({ filter: /.*/, namespace: 'ort-stub' }, () => ({
      contents:
        "throw new Error('this worker bundle takes onnxruntime-web\\'s WebGPU build from the SDK (RuntimeAssets.ortWebgpu.build)')",
      loader: 'js',
    }))
  },
}

// The ONNX worker: the runtime, comlink and onnxruntime-web's WASM build, never TensorFlow.js nor the
// WebGPU build.
const worker = await esbuild.build({
  ...common,
  entryPoints: [`${root}worker/index.ts`],
  // onnxruntime-web's builds without the embedded glue (worker/engines/ort-builds.ts).
  conditions: ['onnxruntime-web-use-extern-wasm'],
  plugins: [ortWebgpuApart, tfjsEngineApart],
  write: false,
  outfile: 'worker.js',
})
const workerCode = worker.outputFiles[0].text

// onnxruntime-web's WebGPU build: imported by the worker from a blob: URL on devices that try WebGPU.
const ortWebgpu = await esbuild.build({
  ...common,
  stdin: { contents: "export * from 'onnxruntime-web/webgpu'", resolveDir: root, loader: 'js' },
  conditions: ['onnxruntime-web-use-extern-wasm'],
  write: false,
  outfile: 'worker-ort-webgpu.js',
})
const ortWebgpuCode = ortWebgpu.outputFiles[0].text

// The TensorFlow.js engine: imported by the worker from a blob: URL with the first tfjs model.
const tfjs = await esbuild.build({
  ...common,
  entryPoints: [`${root}worker/engines/tfjs.ts`],
  write: false,
  outfile: 'worker-tfjs.js',
})
const tfjsCode = tfjs.outputFiles[0].text

/** Replaces the empty placeholders with the worker's and the tfjs engine's bundled sources. */
const inlineWorker = {
  name: 'inline-worker',
  setup(build) {
    build.onLoad({ filter: /client[\\/]worker-source\.ts$/ }, () => ({
      contents: `export default ${JSON.stringify(workerCode)}`,
      loader: 'js',
    }))
    build.onLoad({ filter: /client[\\/]ort-webgpu-source\.ts$/ }, () => ({
      contents: `export default ${JSON.stringify(ortWebgpuCode)}`,
      loader: 'js',
    }))
    build.onLoad({ filter: /client[\\/]tfjs-engine-source\.ts$/ }, () => ({
      contents: `export default ${JSON.stringify(tfjsCode)}`,
      loader: 'js',
    }))
  },
}
await esbuild.build({
  ...common,
  entryPoints: { edgefleet: `${root}client/index.ts` },
  outdir: stage,
  splitting: true,
  chunkNames: 'edgefleet-[name]-[hash]',
  plugins: [inlineWorker],
})

const tsc = spawnSync(
  process.execPath,
  [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.sdk.json`, '--outDir', `${stage}/types`],
  { stdio: 'inherit' },
)
if (tsc.status !== 0) process.exit(tsc.status ?? 1)
// Declarations keep the sources' `.ts` specifiers; consumers resolve `.js` to the `.d.ts` beside it.
for (const file of readdirSync(`${stage}/types`, { recursive: true })) {
  const path = `${stage}/types/${file}`
  if (!path.endsWith('.d.ts')) continue
  writeFileSync(
    path,
    readFileSync(path, 'utf8')
      .replace(/(from\s+'[^']+)\.ts'/g, "$1.js'")
      .replace(/(import\('[^']+)\.ts'\)/g, "$1.js')"),
  )
}

const size = (file) => {
  const bytes = readFileSync(file)
  return `${(bytes.length / 1024).toFixed(1)} KB (${(gzipSync(bytes, { level: 9 }).length / 1024).toFixed(1)} KB gzip)`
}
writeFileSync(`${stage}/worker.js`, workerCode)
writeFileSync(`${stage}/worker-tfjs.js`, tfjsCode)
writeFileSync(`${stage}/worker-ort-webgpu.js`, ortWebgpuCode)
const files = readTree(stage)
syncFiles(out, files)
// The modules a page loads, at /sdk/ of the edge (worker*.js stay in dist/sdk only: the client's chunks
// carry them inlined, nothing fetches them) and in the @edgefleet/client package (client/package.json)
// with their declarations.
const modules = [...files].filter(([path]) => /^[^/]+\.js$/.test(path) && !path.startsWith('worker'))
syncFiles(`${root}public/sdk`, new Map(modules))
syncFiles(`${root}client/dist`, new Map([...modules, ...[...files].filter(([path]) => path.startsWith('types/'))]))
writeFileSync(stamp, `${new Date().toISOString()}\n`)
console.log(
  `sdk: ${out}/edgefleet.js ${size(`${out}/edgefleet.js`)}; ONNX worker ${size(`${out}/worker.js`)}; tfjs engine ${size(`${out}/worker-tfjs.js`)}`,
)
