/** Reference profiles (`profile/1`): quantile edges, binning, histograms, type inference, building. */
export { binIndex, categoryIndex, categoryLookup } from './bin.ts'
export type { CategoryLookup } from './bin.ts'
export { buildProfile, categoricalProfile, DEFAULT_TOP_K, numericProfile } from './build.ts'
export type { ProfileOptions } from './build.ts'
export { FeatureHistogram, mergeCounts, mergeHistograms } from './histogram.ts'
export type { HistogramCounts } from './histogram.ts'
export { columnNames, inferColumns, looksLikeIdName, MAX_NUMERIC_CATEGORIES, MIN_UNIQUE_KEY_ROWS } from './infer.ts'
export type { ColumnInference, ColumnPlan, ColumnRole, ColumnType, InferOptions, SkipReason } from './infer.ts'
export {
  DEFAULT_BINS,
  MAX_BINS,
  quantileEdges,
  quantileEdgesSorted,
  quantileLevels,
  quantileSorted,
} from './quantiles.ts'
export { categoryKey, numericValue } from './values.ts'
