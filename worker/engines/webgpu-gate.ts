import { gpuAdapter, isFallbackAdapter } from '../gpu.ts'
import { BackendSkip } from './engine.ts'

/**
 * The WebGPU availability rule shared by both engines (DESIGN "Client SDK"): no adapter is
 * `not_available`; a software adapter (SwiftShader: slower than WASM and, here, wrong on Silero v5)
 * is `fallback_adapter` unless the app opted in.
 */
export async function requireWebgpu(allowFallbackAdapter: boolean): Promise<void> {
  const { adapter, missing } = await gpuAdapter()
  if (adapter === undefined) throw new BackendSkip('not_available', missing ?? 'no WebGPU adapter')
  if (isFallbackAdapter(adapter) && !allowFallbackAdapter)
    throw new BackendSkip(
      'fallback_adapter',
      'the only WebGPU adapter is a software one (isFallbackAdapter); set allowFallbackAdapter to use it',
    )
}
