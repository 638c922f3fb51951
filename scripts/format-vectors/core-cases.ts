/** Golden cases of the model-description formats: error bodies, signatures, profiles, sketches. */
import * as F from '../../core/formats/index.ts'
import * as D from './documents.ts'
import { bad, REMOVE } from './mutate.ts'
import type { Cases } from './mutate.ts'

/** Cases per format, keyed by vector file name. */
export const CORE_CASES: Record<string, Cases> = {
  'error-body': {
    schema: F.ErrorBody,
    valid: [
      {
        name: 'unknown model',
        value: { error: { code: 'not_found', message: 'model "seattle-weather" does not exist' } },
      },
      {
        name: 'schema error with pointer',
        value: {
          error: {
            code: 'validation_failed',
            message: 'files.0.sha256: 64 lowercase hex characters',
            pointer: '/files/0/sha256',
          },
        },
      },
      {
        name: 'pointer with escaped feature name',
        value: {
          error: {
            code: 'validation_failed',
            message: '"wind/gust" has no profile',
            pointer: '/profile/features/wind~1gust',
          },
        },
      },
      {
        name: 'whole-document pointer',
        value: { error: { code: 'invalid_json', message: 'body is not JSON', pointer: '' } },
      },
    ],
    invalid: [
      { name: 'body not wrapped in error', value: { code: 'not_found', message: 'no such model' }, pointer: '/error' },
      {
        name: 'code not snake_case',
        value: { error: { code: 'NotFound', message: 'no such model' } },
        pointer: '/error/code',
      },
      {
        name: 'dotted path instead of a JSON pointer',
        value: { error: { code: 'validation_failed', message: 'bad digest', pointer: 'files.0.sha256' } },
        pointer: '/error/pointer',
      },
      {
        name: 'unescaped tilde in pointer',
        value: { error: { code: 'validation_failed', message: 'bad', pointer: '/features/a~b' } },
        pointer: '/error/pointer',
      },
      {
        name: 'status inside the body',
        value: { error: { code: 'not_found', message: 'no such model', status: 404 } },
        pointer: '/error',
      },
    ],
  },
  signature: {
    schema: F.Signature,
    valid: [
      { name: 'seattle-weather tabular classifier', value: D.seattleSignature },
      { name: 'silero-vad v5 tensors', value: D.vadSignature },
      { name: 'face-emotion tfjs graph with labels', value: D.emotionSignature },
      {
        name: 'bike-demand regression, defaults filled',
        value: {
          kind: 'tabular',
          features: [
            { name: 'hour', type: 'numeric', transform: { kind: 'minmax', min: 0, max: 23 } },
            { name: 'temp_c', type: 'numeric', transform: { kind: 'standardize', mean: 15.3, std: 8.1 }, fill: 15.3 },
            { name: 'weekday', type: 'categorical', categories: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] },
            { name: 'station', type: 'categorical', categories: ['pier-39', 'union-sq', 'mission'], encoding: 'index' },
          ],
          output: { kind: 'regression', name: 'rentals' },
        },
      },
    ],
    invalid: [
      bad('std of 0 (a constant column)', D.seattleSignature, '/features/3/transform/std', 0),
      bad('unknown transform kind', D.seattleSignature, '/features/0/transform/kind', 'zscore'),
      bad(
        'minmax with max equal to min',
        D.seattleSignature,
        '/features/0/transform',
        { kind: 'minmax', min: 0, max: 0 },
        '/features/0/transform/max',
      ),
      bad(
        'feature listed twice',
        D.seattleSignature,
        '/features/4',
        { name: 'wind', type: 'numeric' },
        '/features/4/name',
      ),
      bad('category listed twice', D.seattleSignature, '/features/4/categories/11', '11', '/features/4/categories/11'),
      bad('unknown categorical encoding', D.seattleSignature, '/features/4/encoding', 'ordinal'),
      bad('a single class label', D.seattleSignature, '/output/labels', ['rain']),
      bad('class label listed twice', D.seattleSignature, '/output/labels/4', 'rain'),
      bad('-1 for a dynamic dim (as TensorFlow writes it)', D.emotionSignature, '/inputs/0/shape/0', -1),
      bad('float64 tensor', D.vadSignature, '/inputs/0/dtype', 'float64'),
      bad('tensor name listed twice', D.vadSignature, '/outputs/1/name', 'output'),
      bad('tabular fields on a tensor signature', D.vadSignature, '/features', [], ''),
    ],
  },
  profile: {
    schema: F.Profile,
    valid: [
      { name: 'seattle-weather 2012-2014', value: D.seattleProfile },
      { name: 'silero-vad input summaries', value: D.vadProfile },
      {
        name: 'constant feature and no outputs, defaults filled',
        value: {
          v: 1,
          rows: 6,
          features: {
            firmware: { type: 'categorical', categories: ['2.4.1', '2.3.0'], counts: [3, 2, 0], n: 5, missing: 1 },
            sample_rate_hz: {
              type: 'numeric',
              edges: [16000],
              counts: [0, 6],
              n: 6,
              missing: 0,
              mean: 16000,
              std: 0,
              min: 16000,
              max: 16000,
            },
          },
        },
      },
    ],
    invalid: [
      bad(
        'counts length not edges + 1',
        D.seattleProfile,
        '/features/temp_max/counts',
        D.seattleProfile.features.temp_max!.counts.slice(1),
      ),
      bad(
        'counts not summing to n',
        D.seattleProfile,
        '/features/temp_max/n',
        D.seattleProfile.features.temp_max!.n + 1,
      ),
      bad('negative count', D.seattleProfile, '/features/wind/counts/3', -4),
      bad(
        'edges not increasing',
        D.seattleProfile,
        '/features/wind/edges/2',
        (D.seattleProfile.features.wind as { edges: number[] }).edges[1],
      ),
      bad('NaN edge (serialized as null)', D.seattleProfile, '/features/precipitation/edges/0', null),
      bad('min above max', D.seattleProfile, '/features/temp_min/min', 99),
      bad('negative std', D.seattleProfile, '/features/temp_min/std', -4.2),
      bad('typo in feature type', D.seattleProfile, '/features/temp_max/type', 'numerical'),
      bad(
        '__other__ listed as a category',
        D.seattleProfile,
        '/features/month/categories/11',
        '__other__',
        '/features/month/categories',
      ),
      bad(
        'category listed twice',
        D.seattleProfile,
        '/features/month/categories/11',
        (D.seattleProfile.features.month as { categories: string[] }).categories[0],
        '/features/month/categories',
      ),
      bad(
        'raw quantiles kept in the profile',
        D.seattleProfile,
        '/features/wind/quantiles',
        [0.4, 3.1, 9.5],
        '/features/wind',
      ),
      bad('version 2', D.seattleProfile, '/v', 2),
    ],
  },
  sketch: {
    schema: F.SketchJson,
    valid: [
      { name: 'empty', value: D.sketchOf([]) },
      { name: 'one load time', value: D.sketchOf([812.4]) },
      { name: '37 latencies in ms', value: D.latencySketch(37, 1.8, 0.4, 37) },
      { name: 'coarse timer: zeros and whole ms', value: D.sketchOf([0, 0, 1, 0, 1, 2, 1, 0, 0, 3, 1]) },
      { name: 'alpha 0.02', value: D.sketchOf([4.1, 5.6, 5.9, 7.3, 12.8, 44.0], 0.02) },
    ],
    invalid: [
      bad('trailing empty bin', D.latencySketch(37, 1.8, 0.4, 37), '/counts/-', 0, '/counts'),
      bad('n not zero + sum of counts', D.latencySketch(37, 1.8, 0.4, 37), '/n', 38),
      bad('negative count', D.sketchOf([1, 2, 2, 3]), '/counts/0', -1),
      bad('min missing when n > 0', D.sketchOf([812.4]), '/min', REMOVE),
      bad('min and max on an empty sketch', D.sketchOf([]), '/min', 0, '/min'),
      bad('offset set with no bins', D.sketchOf([]), '/offset', 12),
      bad('alpha of 1', D.sketchOf([812.4]), '/alpha', 1),
      bad('negative sum', D.sketchOf([0, 0]), '/sum', -0.5),
      bad('version 2', D.sketchOf([812.4]), '/v', 2),
      bad('sum beyond n·max', D.sketchOf([4, 5]), '/sum', 1e308),
      bad('sum below n·min', D.sketchOf([4, 5]), '/sum', 1),
      bad('bins far above max', D.sketchOf([4, 5]), '/offset', 1e15),
      bad('lowest bin far below min', D.sketchOf([4, 5]), '/min', 4.9, '/offset'),
      {
        name: '2049 bins, not collapsed',
        value: {
          v: 1,
          alpha: 0.01,
          zero: 0,
          offset: 0,
          counts: new Array(2049).fill(1),
          n: 2049,
          sum: 1.3e18,
          min: 1,
          max: 1.2e18,
        },
        pointer: '/counts',
      },
    ],
  },
}
