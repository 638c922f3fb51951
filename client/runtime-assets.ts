/**
 * @module
 * Which pinned engine runtime files (core/runtime-files.ts) a load needs, and the bytes of those files
 * assembled into the worker's `RuntimeAssets`.
 */
import type { Backend, ModelFormat } from '../core/formats/common.ts'
import type { PinnedFile, RuntimeGroup, RuntimePins } from '../core/runtime-files.ts'
import type { RuntimeAssets, WorkerCapabilities } from '../worker/protocol.ts'

/**
 * The runtime file groups a load needs: ONNX always needs the WASM build (the fallback, and the
 * reference of the WebGPU self-check); the WebGPU build (27 MB) only when a usable adapter exists;
 * tfjs's WASM files only when `wasm` is among the backends to try.
 */
export function runtimeGroupsFor(
  format: ModelFormat,
  backends: Backend[],
  caps: WorkerCapabilities,
  allowFallbackAdapter: boolean,
): RuntimeGroup[] {
  if (format === 'onnx') {
    const gpu = backends.includes('webgpu') && caps.webgpu && (!caps.fallbackAdapter || allowFallbackAdapter)
    // The WebGPU build carries WebNN's execution provider: an app that opts into webnn gets it.
    return gpu || backends.includes('webnn') ? ['ortWasm', 'ortWebgpu'] : ['ortWasm']
  }
  return backends.includes('wasm') ? ['tfjsWasm'] : []
}

/** Every pinned file of the given groups. */
export function pinnedFiles(pins: RuntimePins, groups: RuntimeGroup[]): PinnedFile[] {
  return groups.flatMap((g) => Object.values(pins[g]) as PinnedFile[])
}

/** Assembles RuntimeAssets from fetched bytes keyed by SHA-256. */
export function runtimeAssets(
  pins: RuntimePins,
  groups: RuntimeGroup[],
  bytes: Map<string, ArrayBuffer>,
): RuntimeAssets {
  const get = (f: PinnedFile) => {
    const b = bytes.get(f.sha256)
    if (!b) throw new Error(`runtime file ${f.path} is missing`)
    return b
  }
  const assets: RuntimeAssets = {}
  for (const g of groups) {
    if (g === 'tfjsWasm') {
      const p = pins.tfjsWasm
      assets.tfjsWasm = {
        'tfjs-backend-wasm.wasm': get(p['tfjs-backend-wasm.wasm']),
        'tfjs-backend-wasm-simd.wasm': get(p['tfjs-backend-wasm-simd.wasm']),
        'tfjs-backend-wasm-threaded-simd.wasm': get(p['tfjs-backend-wasm-threaded-simd.wasm']),
      }
    } else assets[g] = { mjs: get(pins[g].mjs), wasm: get(pins[g].wasm) }
  }
  return assets
}
