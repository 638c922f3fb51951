// Drift metrics on binned counts and the one drift policy (see docs/drift.md).
export { binnedKs, hellinger, jsDistance, psi, PSI_FLOOR } from './binned.ts'
export {
  binnedMetrics,
  binnedVerdict,
  DEFAULT_DRIFT_POLICY,
  pValuesEqual,
  rawCategoricalVerdict,
  rawNumericVerdict,
  verdictKind,
} from './policy.ts'
export type { BinnedMetrics, DriftPolicy, DriftReason, DriftVerdict, RawNumericMetrics } from './policy.ts'
