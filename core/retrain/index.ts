// Retraining, pure: the deterministic split, holdout metrics and validation gates (docs/ci.md).
export { mulberry32, SPLIT_VERSION, stratifiedSplit, type Split } from './split.ts'
export { holdoutMetrics, LOG_LOSS_EPSILON, majorityClass, majorityJudged, type Judged } from './metrics.ts'
export {
  DEFAULT_BASELINE_DELTA,
  DEFAULT_SLICE_MIN_ROWS,
  evaluateGates,
  gateName,
  parseGate,
  rejectionLine,
  withDefaultGates,
  type GateEvidence,
  type GateSpec,
} from './gates.ts'
