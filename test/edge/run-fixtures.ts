/** Run bodies for edge tests: a plausible retraining run of the weather model, overridable. */
let counter = 0

/** A fresh run id (`run_` + 20 hex), distinct within a test run. */
export function runId(): string {
  return `run_${(++counter).toString(16).padStart(20, '0')}`
}

/** A completed manual LDA run with two passed gates, unless overridden. */
export function sampleRun(overrides: Record<string, unknown> = {}): Record<string, any> {
  const metrics = {
    accuracy: 0.82,
    logLoss: 0.51,
    perClass: { rain: { n: 60, accuracy: 0.9 }, sun: { n: 50, accuracy: 0.8 } },
    perSlice: {},
    trainingMs: 12,
    bytes: 412,
  }
  return {
    id: runId(),
    status: 'completed',
    trigger: 'manual',
    params: { family: 'lda', seed: 1, holdout: 0.2, hyper: { shrinkage: 0.01 } },
    data: {
      name: 'seattle-weather-2013-2014.csv',
      sha256: 'a'.repeat(64),
      rows: 730,
      trainRows: 584,
      holdoutRows: 146,
      label: 'weather',
      features: ['precipitation', 'temp_max', 'temp_min', 'wind'],
    },
    metrics,
    champion: { kind: 'majority', version: null, metrics: { ...metrics, accuracy: 0.45, logLoss: 1.2 } },
    gates: [
      { gate: 'baseline:minDelta', value: 0.37, limit: 0.05, passed: true, message: 'baseline:minDelta 0.370 ≥ 0.050' },
      { gate: 'accuracy:min', value: 0.82, limit: 0.6, passed: true, message: 'accuracy:min 0.820 ≥ 0.600' },
    ],
    startedAt: 1_700_000_000_000,
    finishedAt: 1_700_000_001_000,
    ...overrides,
  }
}
