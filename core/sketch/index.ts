/** DDSketch quantile sketches (`sketch/1`): the class and its wire format. */
export { DDSketch } from './DDSketch.ts'
export type { DDSketchOptions } from './DDSketch.ts'
export { parseSketch } from './parse.ts'
export {
  SKETCH_DEFAULT_ALPHA,
  SKETCH_FORMAT,
  SKETCH_MAX_BINS,
  SKETCH_MIN_INDEXABLE,
  SketchJson,
} from '../formats/sketch.ts'
