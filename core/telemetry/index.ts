// Fleet telemetry, pure: mergeable aggregates, distinct-device sets, summaries, series and retraining decisions (docs/telemetry.md).
export {
  addReport,
  checkMergeable,
  decodeAggregate,
  emptyAggregate,
  encodeAggregate,
  estimatesOf,
  mergeAggregates,
  mergeInto,
} from './aggregate.ts'
export type { Aggregate, AggregateJson } from './aggregate.ts'
export { DEVICE_KEY_VERSION, DEVICE_SET_EXACT_LIMIT, DeviceSet, deviceKey } from './device-set.ts'
export type { DeviceSetJson } from './device-set.ts'
export {
  HLL_PRECISION,
  HLL_REGISTERS,
  HLL_RELATIVE_ERROR,
  hllAdd,
  hllEstimate,
  hllMerge,
  hllRegisters,
} from './hyperloglog.ts'
export {
  closedWindows,
  conditionsOf,
  evaluateCondition,
  evaluateWhen,
  inCooldown,
  nextEvaluationAt,
  windowsToRead,
} from './retrain.ts'
export type {
  ConditionKind,
  ConditionResult,
  PolicyResult,
  PolicyWindow,
  WindowEvidence,
  WindowLookup,
} from './retrain.ts'
export { countsByLowestRate, estimateTotals, minSampleRate, rateKey } from './sampling.ts'
export type { RateCounts, RatePart, RatePartJson, Totals } from './sampling.ts'
export { combinePoints, mergePoints, summarizePoint, toPoint } from './series.ts'
export type { PointJson } from './series.ts'
export { DEFAULT_MIN_DEVICES, quantiles, ratio, summarize, suppressed } from './summarize.ts'
export type { SummarizeOptions } from './summarize.ts'
export {
  QUALITY_PROBLEMS,
  QUALITY_RANGE_MARGIN,
  acceptedRange,
  classifyValue,
  dataQualityGuardrail,
  emptyQuality,
  mergeQuality,
  mergeQualityMaps,
  observeRow,
  qualityRateAbove,
  qualityView,
} from './quality.ts'
export type { DataQualityVerdict, DeclaredBounds, FeatureQualityView, QualityProblem, QualityView } from './quality.ts'
