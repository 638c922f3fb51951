/**
 * @module
 * The capabilities a device reports with its assignment queries and telemetry: coarse facts only
 * (WebGPU usable, f16, core count, memory bucket the browser already rounds, platform family).
 */
import type { DeviceCaps } from '../core/formats/telemetry.ts'
import type { WorkerCapabilities } from '../worker/protocol.ts'

/** The device's capabilities, from what the worker found and what the browser says of itself. */
export function deviceCaps(worker: WorkerCapabilities): DeviceCaps {
  const nav = navigator as Navigator & { deviceMemory?: number; userAgentData?: { platform?: string } }
  const platform = nav.userAgentData?.platform
    ?.toLowerCase()
    .replace(/[^a-z0-9_-]/g, '')
    .slice(0, 32)
  return {
    webgpu: worker.webgpu && !worker.fallbackAdapter,
    f16: worker.f16,
    cores: worker.cores || undefined,
    deviceMemory: nav.deviceMemory,
    ...(platform ? { platform } : {}),
  }
}
