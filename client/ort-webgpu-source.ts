/**
 * @module
 * The JavaScript of onnxruntime-web's WebGPU build, handed to the worker with the WebGPU runtime files
 * (only on devices with a usable adapter). This placeholder is empty in the source tree; `npm run
 * build:sdk` replaces it, in its own lazily imported chunk, so that the ONNX worker chunk carries only
 * the WASM build. Unbuilt, the worker imports `onnxruntime-web/webgpu` from its own module graph.
 */
const source: string = ''
export default source
