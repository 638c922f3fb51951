/**
 * @module
 * The capabilities a device reports with its assignment queries and telemetry: coarse facts only
 * (WebGPU usable, f16, core count, memory bucket the browser already rounds, platform family, browser
 * engine family).
 */
import type { DeviceCaps } from '../core/formats/telemetry.ts'
import { browserFamily } from '../core/telemetry/slices.ts'
import type { WorkerCapabilities } from '../worker/protocol.ts'

/**
 * The device's capabilities when no worker has probed it (a page that runs only transformers.js
 * models): WebGPU and f16 are reported as absent rather than guessed.
 */
export function pageCaps(): DeviceCaps {
  const cores = typeof navigator === 'undefined' ? 0 : (navigator.hardwareConcurrency ?? 0)
  return deviceCaps({ webgpu: false, fallbackAdapter: false, f16: false, webnn: false, cores })
}

/** The device's capabilities, from what the worker found and what the browser says of itself. */
export function deviceCaps(worker: WorkerCapabilities): DeviceCaps {
  const nav = navigator as Navigator & {
    deviceMemory?: number
    userAgentData?: { platform?: string; brands?: { brand: string }[] }
  }
  const platform = nav.userAgentData?.platform
    ?.toLowerCase()
    .replace(/[^a-z0-9_-]/g, '')
    .slice(0, 32)
  return {
    webgpu: worker.webgpu && !worker.fallbackAdapter,
    f16: worker.f16,
    ...(worker.webnn ? { webnn: true } : {}),
    cores: worker.cores || undefined,
    deviceMemory: nav.deviceMemory,
    ...(platform ? { platform } : {}),
    browser: browserFamily(nav.userAgentData?.brands, nav.userAgent),
  }
}
