/**
 * @module Which failures are out of memory, for the device health counts (docs/device-health.md).
 */

/**
 * Messages of the out-of-memory failures a load or a run can meet: a wasm heap that cannot grow
 * (`RangeError: WebAssembly.Memory.grow()` / `could not allocate memory`, `Array buffer allocation
 * failed`), onnxruntime-web's allocator (`failed to allocate a buffer`, `bad_alloc`, Emscripten's
 * `Cannot enlarge memory arrays` / `Aborted(OOM)`), and WebGPU (`GPUOutOfMemoryError`, "out of memory").
 * The worker wraps the engine's error with its message, so the text is what crosses to the page.
 */
const OUT_OF_MEMORY =
  /out of memory|\bOOM\b|bad_alloc|failed to allocate|allocation failed|could not allocate|cannot enlarge memory|maximum memory size exceeded|memory\.grow|GPUOutOfMemoryError/i

/** True when `error` (or an error in its `cause` chain) is an out-of-memory failure. */
export function isOutOfMemory(error: unknown): boolean {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const { name, message } = e as { name?: unknown; message?: unknown }
    if (name === 'GPUOutOfMemoryError') return true
    if (typeof message === 'string' && OUT_OF_MEMORY.test(message)) return true
    // A RangeError from an allocation names its size; other RangeErrors (bad arguments) are not memory.
    if (name === 'RangeError' && typeof message === 'string' && /memory|buffer|allocat/i.test(message)) return true
    e = (e as { cause?: unknown }).cause
  }
  return false
}
