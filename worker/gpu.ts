import { webnnExposed } from './engines/webnn-gate.ts'
import type { WorkerCapabilities } from './protocol.ts'

/**
 * The few WebGPU members the worker reads. TypeScript's DOM lib has no WebGPU types and the project
 * does not depend on @webgpu/types, so they are described structurally here.
 */
export interface GpuAdapterLike {
  readonly features: { has(name: string): boolean }
  readonly info?: { readonly isFallbackAdapter?: boolean; readonly vendor?: string; readonly architecture?: string }
  /** Chromium before 135 exposed the flag on the adapter itself. */
  readonly isFallbackAdapter?: boolean
}

interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'low-power' | 'high-performance' }): Promise<GpuAdapterLike | null>
}

/** What `navigator.gpu.requestAdapter()` gave, memoised: adapters are cheap but each request may wake the GPU process. */
export interface GpuProbe {
  adapter: GpuAdapterLike | undefined
  /** Why there is no adapter, for the skip reason's detail. */
  missing?: string
}

let probe: Promise<GpuProbe> | undefined

/** The device's WebGPU adapter, asked for once per worker. */
export function gpuAdapter(): Promise<GpuProbe> {
  probe ??= requestAdapter()
  return probe
}

async function requestAdapter(): Promise<GpuProbe> {
  const gpu = (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu
  if (gpu === undefined) return { adapter: undefined, missing: 'navigator.gpu is missing' }
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' })
    return adapter === null ? { adapter: undefined, missing: 'requestAdapter() returned null' } : { adapter }
  } catch (e) {
    return { adapter: undefined, missing: `requestAdapter() threw: ${e instanceof Error ? e.message : String(e)}` }
  }
}

/** True for a software adapter (SwiftShader and the like), by the current or the legacy flag. */
export function isFallbackAdapter(adapter: GpuAdapterLike): boolean {
  return adapter.info?.isFallbackAdapter === true || adapter.isFallbackAdapter === true
}

/** The accelerators the worker can see: WebGPU's adapter, WebNN's exposure, the cores. */
export async function capabilities(): Promise<WorkerCapabilities> {
  const { adapter } = await gpuAdapter()
  return {
    webgpu: adapter !== undefined,
    fallbackAdapter: adapter !== undefined && isFallbackAdapter(adapter),
    f16: adapter?.features.has('shader-f16') ?? false,
    webnn: webnnExposed(),
    cores: globalThis.navigator?.hardwareConcurrency ?? 1,
  }
}

/** GPUDeviceLostInfo: `reason` is `destroyed` (GPUDevice.destroy()) or `unknown` (driver reset, GPU process crash…). */
interface GpuDeviceLike {
  readonly lost: Promise<{ readonly reason: string; readonly message: string }>
}

/**
 * Resolves with a detail for people once `device` is lost, e.g. `device lost (destroyed): …`;
 * undefined for something that is not a GPUDevice (no `lost` promise to listen on).
 */
export function deviceLost(device: unknown): Promise<string> | undefined {
  const lost = (device as Partial<GpuDeviceLike> | null | undefined)?.lost
  if (!(lost instanceof Promise)) return undefined
  return lost.then((info) => `device lost (${info.reason})${info.message ? `: ${info.message}` : ''}`)
}
