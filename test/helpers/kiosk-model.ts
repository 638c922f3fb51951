/**
 * A small kiosk model for fleet e2e suites: temperature (standardized), wind (min-max) and the sky
 * (one-hot) → stay or go, as the seeded linear classifier `publishLinearModel` writes
 * (test/helpers/onnx-model.ts), with a reference profile of 100 rows.
 */
export const KIOSK_SIGNATURE = {
  kind: 'tabular',
  features: [
    { name: 'temp_max', type: 'numeric', transform: { kind: 'standardize', mean: 15, std: 7 } },
    { name: 'wind', type: 'numeric', transform: { kind: 'minmax', min: 0, max: 10 } },
    { name: 'sky', type: 'categorical', categories: ['clear', 'cloudy', 'rain'] },
  ],
  input: { name: 'x' },
  output: { kind: 'classes', name: 'probs', labels: ['stay', 'go'], activation: 'none' },
}

/** Its reference profile: temp_max observed in [−3, 33], wind in [0, 10]. */
export const KIOSK_PROFILE = {
  v: 1,
  rows: 100,
  features: {
    temp_max: {
      type: 'numeric',
      edges: [5, 15, 25],
      counts: [20, 30, 30, 20],
      n: 100,
      missing: 0,
      mean: 15,
      std: 7,
      min: -3,
      max: 33,
    },
    wind: {
      type: 'numeric',
      edges: [2, 5],
      counts: [30, 40, 30],
      n: 100,
      missing: 0,
      mean: 4,
      std: 2,
      min: 0,
      max: 10,
    },
    sky: { type: 'categorical', categories: ['clear', 'cloudy', 'rain'], counts: [40, 35, 25, 0], n: 100, missing: 0 },
  },
  outputs: {
    label: { type: 'categorical', categories: ['stay', 'go'], counts: [50, 50, 0], n: 100, missing: 0 },
  },
}
