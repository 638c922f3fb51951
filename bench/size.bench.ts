/**
 * @module
 * What the SDK adds to a page, measured on what `npm run build:sdk` ships (esbuild minify, gzip -9):
 * - `sdk-size`: the entry a page loads before its first `load()` (edgefleet.js and the chunks it imports
 *   statically) against the browser SDKs of GrowthBook, LaunchDarkly and Sentry, each bundled the same way
 *   from a page that makes its first call (`new GrowthBook(…).init()`, `initialize(…)`, `Sentry.init(…)`);
 *   the baseline is the smallest of the three. Target ≤ 12 KB and below all three.
 * - `worker-size-onnx`: the worker chunk an ONNX-only app downloads, against onnxruntime-web's own
 *   `ort.wasm.min.mjs`. Target ≤ 40 KB.
 * - `report-bytes`: a typical telemetry/1 report (20 features on 20 bins, test/vectors), gzip. Target ≤ 1 KB.
 * Sizes are exact: one measurement each. Run with `npm run bench -- size`.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import * as esbuild from 'esbuild'
import { record } from './results.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const sdk = `${root}dist/sdk`
const gzip = (bytes: string | Uint8Array) => gzipSync(bytes, { level: 9 }).length

const build = spawnSync(process.execPath, [`${root}scripts/build-sdk.mjs`], { cwd: root, encoding: 'utf8' })
if (build.status !== 0) throw new Error(`npm run build:sdk failed:\n${build.stderr}`)

/** A module and every chunk it imports statically (what loads before any dynamic import runs). */
function staticClosure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen
  seen.add(file)
  const code = readFileSync(`${sdk}/${file}`, 'utf8')
  for (const m of code.matchAll(/(?:^|[;}])\s*(?:import|export)\s*(?:[^'"();]*?from\s*)?["']\.\/([^"']+)["']/g))
    staticClosure(m[1]!, seen)
  return seen
}
const entryFiles = [...staticClosure('edgefleet.js')]
const entry = entryFiles.reduce((a, f) => a + gzip(readFileSync(`${sdk}/${f}`)), 0)
console.log(`entry: ${entryFiles.join(' + ')} = ${entry} B gzip`)

const anchors: Record<string, string> = {
  GrowthBook: `import { GrowthBook } from '@growthbook/growthbook'
const gb = new GrowthBook({ apiHost: 'https://cdn.growthbook.io', clientKey: 'sdk-abc', attributes: { id: 'u1' } })
window.flag = gb.init().then(() => gb.isOn('f'))`,
  LaunchDarkly: `import { initialize } from 'launchdarkly-js-client-sdk'
const client = initialize('client-side-id', { kind: 'user', key: 'u1' })
window.flag = client.waitForInitialization().then(() => client.variation('f', false))`,
  Sentry: `import * as Sentry from '@sentry/browser'
Sentry.init({ dsn: 'https://public@o0.ingest.sentry.io/0' })
window.capture = Sentry.captureException`,
}
const anchorSizes: Record<string, number> = {}
for (const [name, contents] of Object.entries(anchors)) {
  const out = await esbuild.build({
    stdin: { contents, resolveDir: root, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'eof',
    define: { 'process.env.NODE_ENV': '"production"' },
    write: false,
    logLevel: 'error',
  })
  anchorSizes[name] = gzip(out.outputFiles[0]!.contents)
  console.log(`${name}: ${anchorSizes[name]} B gzip`)
}
const smallest = Math.min(...Object.values(anchorSizes))
const smallestName = Object.keys(anchorSizes).find((k) => anchorSizes[k] === smallest)!

const workerChunk = readdirSync(sdk).find((f) => f.startsWith('edgefleet-worker-source-'))!
const worker = gzip(readFileSync(`${sdk}/${workerChunk}`))
const ortOwn = gzip(readFileSync(`${root}node_modules/onnxruntime-web/dist/ort.wasm.min.mjs`))
console.log(`ONNX worker chunk ${workerChunk}: ${worker} B gzip; ort.wasm.min.mjs ${ortOwn} B gzip`)

const report = JSON.stringify(JSON.parse(readFileSync(`${root}test/vectors/formats/report.typical.json`, 'utf8')).value)
const reportGzip = gzip(report)

const KB = 1024
record(
  {
    name: 'sdk-size',
    unit: 'bytes',
    value: entry,
    baseline: smallest,
    ratio: entry / smallest,
    target: '≤ 12 KB and below all three',
    ok: entry <= 12 * KB && Object.values(anchorSizes).every((s) => entry < s),
    note: `baseline ${smallestName}, the smallest of ${Object.entries(anchorSizes)
      .map(([k, v]) => `${k} ${(v / KB).toFixed(1)} KB`)
      .join(', ')} (min+gzip, first call)`,
  },
  {
    name: 'worker-size-onnx',
    unit: 'bytes',
    value: worker,
    baseline: ortOwn,
    ratio: worker / ortOwn,
    target: '≤ 40 KB',
    ok: worker <= 40 * KB,
    note: "baseline onnxruntime-web's own ort.wasm.min.mjs (min+gzip)",
  },
  {
    name: 'report-bytes',
    unit: 'bytes',
    value: reportGzip,
    baseline: null,
    ratio: null,
    target: '≤ 1 KB',
    ok: reportGzip <= KB,
    note: `a typical 20-feature report: ${Buffer.byteLength(report)} B JSON, gzip -9`,
  },
)
