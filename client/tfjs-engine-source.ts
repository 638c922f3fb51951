/**
 * @module
 * The TensorFlow.js engine's source (worker/engines/tfjs.ts bundled with TensorFlow.js), handed to the
 * worker with the first tfjs model. This placeholder is empty in the source tree; `npm run build:sdk`
 * replaces it, in its own lazily imported chunk, so an ONNX-only app never downloads TensorFlow.js.
 * Unbuilt, the worker imports the engine from its own module graph.
 */
const source: string = ''
export default source
