import type * as Ort from 'onnxruntime-web'
import type { RuntimeFiles } from './runtime-files.ts'

/** The onnxruntime-web API; every build exports the same one. */
export type OrtModule = typeof Ort

/** Which onnxruntime-web build: plain WASM (CPU), or the WebGPU build (asyncify WASM + WebGPU EP). */
export type OrtBuildName = 'wasm' | 'webgpu'

/*
 * The builds WITHOUT the embedded emscripten glue (`ort.wasm.min.mjs`, `ort.webgpu.min.mjs`): they take
 * the glue from `env.wasm.wasmPaths.mjs`, here a blob: URL of the client's cached bytes, so nothing is
 * fetched and pthread workers start from the same blob. The package's exports map offers these files
 * under the `onnxruntime-web-use-extern-wasm` condition, which the SDK build (scripts/build-sdk.mjs) and
 * the browser tests (vitest.config.ts) turn on; the worker bundle inlines them.
 * Dynamic imports keep each build (and the WebGPU one, on devices without an adapter) from evaluating
 * until a model needs it.
 */
const importers: Record<OrtBuildName, (build?: string) => Promise<OrtModule>> = {
  wasm: () => import('onnxruntime-web/wasm'),
  // The built SDK hands the WebGPU build's JavaScript over with its runtime files (the worker bundle
  // leaves it out: 66 KB minified that a device without WebGPU would never run); unbuilt, it is a module.
  webgpu: (build) =>
    build
      ? import(/* @vite-ignore */ URL.createObjectURL(new Blob([build], { type: 'text/javascript' })))
      : import('onnxruntime-web/webgpu'),
}

const GLUE: Record<OrtBuildName, { group: 'ortWasm' | 'ortWebgpu'; file: string }> = {
  wasm: { group: 'ortWasm', file: 'ort-wasm-simd-threaded.mjs' },
  webgpu: { group: 'ortWebgpu', file: 'ort-wasm-simd-threaded.asyncify.mjs' },
}

const started = new Map<OrtBuildName, Promise<OrtModule>>()

/**
 * The build, imported and pointed at the client's runtime files, once per worker. Throws a
 * `missing_runtime` BackendSkip (and forgets the attempt) when the files were not provided.
 */
export function ortBuild(build: OrtBuildName, files: RuntimeFiles): Promise<OrtModule> {
  let ort = started.get(build)
  if (ort === undefined) {
    ort = configure(build, files)
    started.set(build, ort)
    ort.catch(() => started.delete(build))
  }
  return ort
}

async function configure(build: OrtBuildName, files: RuntimeFiles): Promise<OrtModule> {
  const { group, file } = GLUE[build]
  const assets = files.require(group)
  const ort = await importers[build]('build' in assets ? assets.build : undefined)
  // Both must be set before the first session: wasmBinary alone still fetches the glue, and the glue
  // alone fails ("Invalid URL") because the .wasm path is derived from it (docs/environment.md).
  ort.env.wasm.wasmPaths = { mjs: files.url(group, file, assets.mjs, 'text/javascript') }
  ort.env.wasm.wasmBinary = assets.wasm
  // Already inside a worker: ORT's own proxy worker would only add a hop.
  ort.env.wasm.proxy = false
  ort.env.logLevel = 'error'
  return ort
}

/** Lets the .wasm bytes go once the build has compiled them: ORT reads `wasmBinary` only at start. */
export function releaseWasmBinary(ort: OrtModule, build: OrtBuildName, files: RuntimeFiles): void {
  ort.env.wasm.wasmBinary = undefined
  files.consume(GLUE[build].group)
}
