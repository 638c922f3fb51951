/**
 * @module
 * Slice keys (docs/telemetry.md, "Slices"): the coarse values a report is grouped by besides its
 * cohort. Every value comes from a closed set or a slug the schema already bounds, never free text.
 */
import { COHORT_LABEL_PATTERN } from '../cohort-label.ts'
import type { BrowserFamily, SliceDimension } from '../formats/slices.ts'
import type { DeviceCaps, Report } from '../formats/telemetry.ts'

/** The value of a dimension a device did not report. */
export const UNKNOWN_SLICE = 'unknown'

/** A device's slice values, as stored beside its raw batch (the report adds `backend`). */
export type DeviceSlices = Partial<Record<Exclude<SliceDimension, 'backend' | 'variant'>, string>>

/**
 * The memory bucket of `navigator.deviceMemory` (GiB, which browsers already round to a power of
 * two and cap at 8): `<=2`, `4` for anything between, `>=8`; `unknown` when absent.
 */
export function memoryBucket(gib: number | undefined): string {
  if (gib === undefined || !Number.isFinite(gib)) return UNKNOWN_SLICE
  if (gib <= 2) return '<=2'
  if (gib < 8) return '4'
  return '>=8'
}

/**
 * The browser family from `navigator.userAgentData.brands` where the browser has them, else the user
 * agent string: the engine family only. Browsers on iOS all run WebKit, so they count as `safari`.
 *
 * @example browserFamily(undefined, 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0') // 'firefox'
 */
export function browserFamily(brands: readonly { brand: string }[] | undefined, userAgent: string): BrowserFamily {
  if (brands?.some((b) => b.brand === 'Chromium')) return 'chromium'
  if (/Firefox\/|FxiOS\//.test(userAgent)) return 'firefox'
  if (/CriOS\/|EdgiOS\/|iPhone|iPad/.test(userAgent)) return 'safari'
  if (/Chrome\/|Chromium\//.test(userAgent)) return 'chromium'
  if (/Safari\//.test(userAgent) && /AppleWebKit\//.test(userAgent)) return 'safari'
  return 'other'
}

/** The slice values of a device from the capabilities its batch carries. */
export function deviceSlices(caps: DeviceCaps): DeviceSlices {
  return {
    platform: caps.platform ?? UNKNOWN_SLICE,
    browser: caps.browser ?? UNKNOWN_SLICE,
    memory: memoryBucket(caps.deviceMemory),
  }
}

/** The value of one dimension for one report of a device; null where the dimension has no value (`cohort` of a device that sent none, or a label outside the model's allow-list). */
export function sliceValueOf(dimension: SliceDimension, report: Report, device: DeviceSlices): string | null {
  if (dimension === 'backend') return report.backend
  if (dimension === 'variant') return report.variant ?? UNKNOWN_SLICE
  return device[dimension] ?? null
}

/** Reads stored device slice values back; anything unreadable is no values at all (older rows). */
export function parseDeviceSlices(text: string | null | undefined): DeviceSlices {
  if (!text) return {}
  try {
    const json: unknown = JSON.parse(text)
    if (typeof json !== 'object' || json === null) return {}
    const out: DeviceSlices = {}
    for (const k of ['platform', 'browser', 'memory', 'cohort'] as const) {
      const v = (json as Record<string, unknown>)[k]
      const pattern = k === 'cohort' ? COHORT_LABEL_PATTERN : /^[a-z0-9_<>=-]{1,32}$/
      if (typeof v === 'string' && pattern.test(v)) out[k] = v
    }
    return out
  } catch {
    return {}
  }
}
