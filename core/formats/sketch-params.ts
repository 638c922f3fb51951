/**
 * @module
 * The parameters of `sketch/1` (core/formats/sketch.ts) in a module of their own, without the schema,
 * so the DDSketch itself (used on devices) does not bundle the validation library.
 */

export const SKETCH_FORMAT = 'sketch/1'

/** Relative accuracy used unless a sketch is built with another: α = 1%. */
export const SKETCH_DEFAULT_ALPHA = 0.01

/** Most bins a `sketch/1` keeps; lower bins are collapsed beyond that (see `DDSketch`). */
export const SKETCH_MAX_BINS = 2048

/**
 * Smallest value given a bin: values in [0, 1e-9) go to the zero bucket and are reported as `min`
 * (absolute error below 1e-9). Far below any latency or load time in ms or s; keeps bin indices ≥ −1036 at α = 1%.
 */
export const SKETCH_MIN_INDEXABLE = 1e-9
