import { EdgefleetError } from '../../core/errors.ts'
import type { FeatureProfile } from '../../core/formats/profile.ts'
import { SKETCH_DEFAULT_ALPHA } from '../../core/formats/sketch.ts'
import type { Batch, BinnedCounts } from '../../core/formats/telemetry.ts'
import { jsonPointer } from '../../core/json-pointer.ts'
import type { VersionLookup } from '../db/profiles.ts'
import type { TelemetryConfig } from './config.ts'
import { versionId } from './profiles.ts'

/** Distinct model versions one batch may report on (each may cost a registry lookup). */
export const MAX_VERSIONS_PER_BATCH = 32

/**
 * Refuses reports outside the accepting window: a window ending more than `futureMs` ahead is
 * `too_new`, one starting more than `horizonMs` ago is `too_old` (final: the SDK drops, never retries).
 */
export function checkWindows(batch: Batch, now: number, cfg: Pick<TelemetryConfig, 'horizonMs' | 'futureMs'>): void {
  batch.reports.forEach((r, i) => {
    if (r.window.end > now + cfg.futureMs)
      throw new EdgefleetError(
        'too_new',
        `reports[${i}]: the window ends more than ${cfg.futureMs / 60_000} minutes in the future`,
        { pointer: `/reports/${i}/window/end` },
      )
    if (r.window.start < now - cfg.horizonMs)
      throw new EdgefleetError(
        'too_old',
        `reports[${i}]: the window starts more than ${cfg.horizonMs / 3_600_000} hours ago`,
        { pointer: `/reports/${i}/window/start` },
      )
  })
}

/** The distinct (model, version) pairs of a batch; more than MAX_VERSIONS_PER_BATCH is `validation_failed`. */
export function versionsOf(batch: Batch): { model: string; version: number }[] {
  const seen = new Map<string, { model: string; version: number }>()
  batch.reports.forEach((r, i) => {
    seen.set(versionId(r.model, r.version), { model: r.model, version: r.version })
    if (seen.size > MAX_VERSIONS_PER_BATCH)
      throw new EdgefleetError(
        'validation_failed',
        `a batch reports on at most ${MAX_VERSIONS_PER_BATCH} model versions`,
        { pointer: `/reports/${i}/version`, data: { reason: 'too_many_versions' } },
      )
  })
  return [...seen.values()]
}

/**
 * Holds every report to the registry: the model and version exist, sketches use the fleet's alpha,
 * and every histogram is named by the version's profile and has its bins (counts length = edges + 1
 * or categories + 1). The first problem is a 400 `validation_failed` with its JSON pointer.
 */
export function checkAgainstRegistry(batch: Batch, lookups: Map<string, VersionLookup>): void {
  batch.reports.forEach((r, i) => {
    const at = `/reports/${i}`
    const v = lookups.get(versionId(r.model, r.version))
    if (!v?.modelExists)
      throw new EdgefleetError('validation_failed', `reports[${i}]: model "${r.model}" does not exist`, {
        pointer: `${at}/model`,
        data: { reason: 'unknown_model' },
      })
    if (!v.versionExists)
      throw new EdgefleetError('validation_failed', `reports[${i}]: model "${r.model}" has no version ${r.version}`, {
        pointer: `${at}/version`,
        data: { reason: 'unknown_version' },
      })
    // A variant only of the version's own: the slice's values stay the publisher's names.
    if (r.variant !== undefined && !(v.variants ?? []).includes(r.variant))
      throw new EdgefleetError(
        'validation_failed',
        `reports[${i}]: version ${r.version} has no variant "${r.variant}"`,
        {
          pointer: `${at}/variant`,
          data: { reason: 'unknown_variant' },
        },
      )
    for (const key of ['latency', 'loadMs'] as const) {
      if (r[key].alpha !== SKETCH_DEFAULT_ALPHA)
        throw new EdgefleetError(
          'validation_failed',
          `reports[${i}].${key}: sketches are merged at alpha ${SKETCH_DEFAULT_ALPHA}`,
          { pointer: `${at}/${key}/alpha`, data: { reason: 'sketch_alpha' } },
        )
    }
    checkHistograms(r.features, v.profile?.features ?? {}, `${at}/features`, 'feature', r.version)
    checkHistograms(r.outputs, v.profile?.outputs ?? {}, `${at}/outputs`, 'output', r.version)
    // Data-quality counts only for the profile's input features: no free text on the wire.
    const inputs = v.profile?.features ?? {}
    for (const name of Object.keys(r.quality ?? {}))
      if (!Object.hasOwn(inputs, name))
        throw new EdgefleetError('validation_failed', `"${name}" is not a feature of version ${r.version}'s profile`, {
          pointer: `${at}/quality${jsonPointer([name])}`,
          data: { reason: 'unknown_quality_feature' },
        })
    // Calibrated confidences only against a map the version was published with.
    if (r.calibrated !== undefined && v.profile?.calibration === undefined)
      throw new EdgefleetError('validation_failed', `version ${r.version} has no calibration map to report against`, {
        pointer: `${at}/calibrated`,
        data: { reason: 'no_calibration' },
      })
  })
}

function checkHistograms(
  reported: Record<string, BinnedCounts>,
  profile: Record<string, FeatureProfile>,
  at: string,
  what: string,
  version: number,
): void {
  for (const [name, h] of Object.entries(reported)) {
    const pointer = `${at}${jsonPointer([name])}`
    const ref = Object.hasOwn(profile, name) ? profile[name] : undefined
    if (ref === undefined)
      throw new EdgefleetError('validation_failed', `"${name}" is not a ${what} of version ${version}'s profile`, {
        pointer,
        data: { reason: 'unknown_histogram' },
      })
    const bins = ref.type === 'numeric' ? ref.edges.length + 1 : ref.categories.length + 1
    if (h.counts.length !== bins)
      throw new EdgefleetError(
        'validation_failed',
        `${what} "${name}" has ${bins} bins in the profile, got ${h.counts.length} counts`,
        { pointer: `${pointer}/counts`, data: { reason: 'histogram_bins' } },
      )
  }
}
