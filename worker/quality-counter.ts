/**
 * @module Data quality of a tabular model's inputs, counted on the device: every record predicted on
 * is classified per profiled input feature (core/telemetry/quality.ts) and the counts accumulate
 * until the next `collect()`, which telemetry turns into the report's `quality`. Only counts are kept:
 * no value of a record outlives the call that classified it.
 */
import type { Profile } from '../core/formats/profile.ts'
import type { FeatureQuality } from '../core/formats/quality.ts'
import type { TabularFeature } from '../core/formats/signature.ts'
import { observeRow, type DeclaredBounds } from '../core/telemetry/quality.ts'
import type { ModelInput } from './protocol.ts'

/** Per-feature data-quality counts of one loaded model since the previous collect. */
export class QualityCounter {
  readonly #features: Profile['features']
  readonly #declared: Record<string, DeclaredBounds>
  #counts: Record<string, FeatureQuality> = {}

  constructor(features: Profile['features'], signatureFeatures: readonly TabularFeature[]) {
    this.#features = features
    this.#declared = {}
    for (const f of signatureFeatures) if (f.type === 'numeric' && f.bounds) this.#declared[f.name] = { ...f.bounds }
  }

  /** Classifies every profiled feature of each record. */
  observe(records: readonly ModelInput[]): void {
    for (const record of records) observeRow(this.#counts, this.#features, record, this.#declared)
  }

  /** The counts since the previous collect (features without rows are left out); starts the next delta. */
  collect(): Record<string, FeatureQuality> {
    const out = this.#counts
    this.#counts = {}
    return out
  }
}
