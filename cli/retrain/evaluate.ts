/**
 * @module
 * Judging a model on holdout rows: its predictions in onnxruntime-web, holdout metrics with the
 * slices the gates ask for, its size and one-record latency.
 */
import type { RunMetrics } from '../../core/formats/run.ts'
import type { GateSpec } from '../../core/retrain/gates.ts'
import { holdoutMetrics } from '../../core/retrain/metrics.ts'
import { categoryKey } from '../../core/profile/values.ts'
import { judge, openOnnxClassifier, type Prediction } from '../../trainer/onnx-classifier.ts'
import type { TabularSignature } from '../../trainer/tabular-signature.ts'

/** The columns the slice-gap gates group by. */
export function sliceColumns(gates: readonly GateSpec[]): string[] {
  return [...new Set(gates.flatMap((g) => (g.kind === 'sliceGap' ? [g.by] : [])))]
}

/** Each slice column's value per holdout row. */
export function slicesOf(
  rows: readonly Record<string, unknown>[],
  columns: readonly string[],
): Record<string, (string | undefined)[]> {
  return Object.fromEntries(columns.map((c) => [c, rows.map((r) => categoryKey(r[c]))]))
}

/** A model's holdout metrics (with size and latency when `measure`), and its predictions. */
export async function evaluateOnnx(options: {
  onnx: Uint8Array
  signature: TabularSignature
  holdout: readonly Record<string, unknown>[]
  label: string
  slices: Record<string, (string | undefined)[]>
  measure: boolean
}): Promise<{ metrics: RunMetrics; predictions: Prediction[] }> {
  const model = await openOnnxClassifier(options.onnx, options.signature)
  try {
    const predictions = await model.predict(options.holdout)
    const metrics = holdoutMetrics(judge(predictions, options.holdout, options.label), options.slices)
    if (options.measure) {
      metrics.bytes = options.onnx.length
      metrics.latencyP95Ms = await model.latencyP95(options.holdout)
    }
    return { metrics, predictions }
  } finally {
    await model.release()
  }
}
