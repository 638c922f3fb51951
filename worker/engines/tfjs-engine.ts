/**
 * @module
 * Where the TensorFlow.js engine comes from. The SDK's build bundles it apart from the worker (an
 * ONNX-only app never downloads TensorFlow.js) and hands its source to the worker with the first tfjs
 * load; the worker imports it from a blob: URL once. Without that source (unbundled runs, tests) the
 * worker imports `./tfjs.ts` from its own module graph; the SDK build replaces that import with a stub.
 */
import type * as TfjsEngine from './tfjs.ts'

let engine: Promise<typeof TfjsEngine> | undefined

/** The tfjs engine module, imported once per worker from the given source or from this source tree. */
export function tfjsEngine(source?: string): Promise<typeof TfjsEngine> {
  engine ??= source
    ? import(/* @vite-ignore */ URL.createObjectURL(new Blob([source], { type: 'text/javascript' })))
    : import('./tfjs.ts')
  engine.catch(() => (engine = undefined))
  return engine
}
