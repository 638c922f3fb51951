/**
 * @module
 * The order in which each engine tries its backends when the app names none (DESIGN: ONNX WebGPU then
 * WASM; tfjs WebGPU, WebGL, WASM, CPU). The client picks runtime files by it and the worker tries it.
 */
import type { Backend, ModelFormat } from './formats/common.ts'

/** Default backend order per model format. */
export const DEFAULT_BACKENDS: Readonly<Record<ModelFormat, readonly Backend[]>> = {
  onnx: ['webgpu', 'wasm'],
  'tfjs-layers': ['webgpu', 'webgl', 'wasm', 'cpu'],
  'tfjs-graph': ['webgpu', 'webgl', 'wasm', 'cpu'],
  // transformers.js picks its own device (`pipeline(task, id, { device })`); this is its default.
  'hf-onnx': ['wasm'],
}

/** The default backend order for a format, as a fresh array the caller may keep. */
export function defaultBackends(format: ModelFormat): Backend[] {
  return [...DEFAULT_BACKENDS[format]]
}
