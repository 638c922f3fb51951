/**
 * @module
 * Which variant of a version a device runs (docs/variants.md): the first, in publish order, whose
 * `requires` the device meets and which the device has not excluded. The rules are conservative: a
 * capability the device did not report counts as absent, so an old SDK (or a browser that hides
 * `deviceMemory`) lands on a variant every device can run rather than one it may not.
 */
import type { Backend } from '../formats/common.ts'
import type { DeviceCaps } from '../formats/telemetry.ts'
import type { Variant, VariantRequires } from '../formats/variants.ts'

/** Why a variant was picked (or none was). */
export type VariantPickReason = 'matched' | 'default' | 'excluded_all'

/** The picked variant (null when every one the device fits is excluded), and why. */
export interface VariantPick {
  value: Variant | null
  reason: VariantPickReason
}

/**
 * True when the device can run `backend`: WebGPU needs a usable adapter, WebNN an exposed
 * `navigator.ml`; WebGL, WASM and CPU are present in every browser the SDK supports.
 */
export function deviceHasBackend(caps: DeviceCaps, backend: Backend): boolean {
  if (backend === 'webgpu') return caps.webgpu
  if (backend === 'webnn') return caps.webnn ?? false
  return true
}

/** The conditions of `requires` the device does not meet (empty: it fits). */
export function unmetRequirements(requires: VariantRequires | undefined, caps: DeviceCaps): string[] {
  if (requires === undefined) return []
  const unmet: string[] = []
  if (requires.webgpu !== undefined && requires.webgpu !== caps.webgpu) unmet.push('webgpu')
  if (requires.f16 !== undefined && requires.f16 !== (caps.f16 ?? false)) unmet.push('f16')
  if (requires.minDeviceMemory !== undefined && (caps.deviceMemory ?? 0) < requires.minDeviceMemory)
    unmet.push('minDeviceMemory')
  if (requires.backends !== undefined && !requires.backends.some((b) => deviceHasBackend(caps, b)))
    unmet.push('backends')
  return unmet
}

/**
 * Picks a variant for a device: the first that it fits and has not excluded. `reason` is `default`
 * when the pick has no requirements, `excluded_all` (value null) when every variant it fits is
 * excluded.
 *
 * @example pickVariant(variants, { webgpu: true, f16: true }, new Set()) // {value: fp16, reason: 'matched'}
 */
export function pickVariant(
  variants: readonly Variant[],
  caps: DeviceCaps,
  excluded: ReadonlySet<string>,
): VariantPick {
  for (const v of variants) {
    if (excluded.has(v.name) || unmetRequirements(v.requires, caps).length > 0) continue
    return { value: v, reason: v.requires === undefined ? 'default' : 'matched' }
  }
  return { value: null, reason: 'excluded_all' }
}
