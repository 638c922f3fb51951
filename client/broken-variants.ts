/**
 * @module
 * The variants this device found broken (docs/variants.md, "Fallback"), kept in IndexedDB per model so
 * a page load after a failure asks the edge for the next variant at once instead of downloading and
 * failing on the broken one again. Each entry names its version: v4's `fp16` is a new build and is
 * tried again. Only the newest versions are kept (the edge reads at most 16 pairs).
 */
import { isEdgefleetError } from '../core/errors.ts'
import type { VariantExclusion } from '../core/formats/variants.ts'
import { encodeExclusions, MAX_EXCLUSIONS } from '../core/variants/exclusions.ts'
import type { ModelCache } from './cache.ts'
import type { FleetEvent } from './types.ts'

/**
 * Load failures that are the variant's own (its model or the backends it runs on), not the network's
 * or the cache's: these move a device to the next variant.
 */
const VARIANT_FAILURES: ReadonlySet<string> = new Set([
  'backend_unavailable',
  'webgpu_mismatch',
  'parse_error',
  'bad_request',
  'internal',
])

/** True when `e` is a load failure that the next variant may not have. */
export function isVariantFailure(e: unknown): boolean {
  return !isEdgefleetError(e) || VARIANT_FAILURES.has(e.code)
}

/**
 * Why a variant failed, for the `variant_fallback` event: `webgpu_mismatch` when a backend failed its
 * golden self-check, otherwise the error's code.
 */
function failureReason(e: unknown): string {
  if (!isEdgefleetError(e)) return 'internal'
  const reasons = (e.details.data?.reasons ?? {}) as Record<string, unknown>
  return Object.values(reasons).includes('webgpu_mismatch') ? 'webgpu_mismatch' : e.code
}

/** The `variant_fallback` event of `broken`, which failed with `e`; `to`: the variant the device moved to (null: none). */
export function variantFallback(
  model: string,
  broken: VariantExclusion,
  to: string | null,
  e: unknown,
): Extract<FleetEvent, { type: 'variant_fallback' }> {
  const message = e instanceof Error ? e.message : String(e)
  return { type: 'variant_fallback', model, ...broken, from: broken.variant, to, reason: failureReason(e), message }
}

const keyOf = (model: string) => `brokenVariants:${model}`

/** The broken variants of each model on this device. */
export class BrokenVariants {
  constructor(private readonly cache: () => Promise<ModelCache>) {}

  /** The `exclude` value for `model` (empty: nothing known broken). */
  async exclude(model: string): Promise<string> {
    return encodeExclusions(await this.list(model))
  }

  /** Every pair known broken for `model`. */
  async list(model: string): Promise<VariantExclusion[]> {
    return (await (await this.cache()).getMeta<VariantExclusion[]>(keyOf(model))) ?? []
  }

  /** Remembers that `variant` of `version` failed here. */
  async add(model: string, broken: VariantExclusion): Promise<void> {
    await (
      await this.cache()
    ).updateMeta<VariantExclusion[]>(keyOf(model), (before = []) => {
      const rest = before.filter((b) => b.version !== broken.version || b.variant !== broken.variant)
      return [broken, ...rest].sort((a, b) => b.version - a.version).slice(0, MAX_EXCLUSIONS)
    })
  }
}
