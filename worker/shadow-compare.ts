import type { ModelOutput, TensorData } from './protocol.ts'
import { numberAt } from './tensor-data.ts'

/** Agreement bound of regression and tensor outputs: |primary − shadow| ≤ tolerance · max(1, |primary|). */
export const DEFAULT_SHADOW_TOLERANCE = 0.01

/** How to compare a shadow's outputs with the primary's. */
export interface CompareOptions {
  tolerance: number
  /** Class labels of tensor outputs (from the shadow's tensor signature), by output name. */
  labels: Record<string, readonly string[]>
}

/** One comparison: whether the outputs agree, and their mean absolute difference (null: not comparable). */
export interface Comparison {
  agreed: boolean
  absDiff: number | null
}

/**
 * Compares the shadow's output for an input with the primary's answer to it:
 * - classes: agree on the same label (argmax); the difference is the mean over the union of labels of
 *   |p_primary(label) − p_shadow(label)| (a label one side lacks scores 0 there);
 * - regression: agree when |p − s| ≤ tolerance · max(1, |p|) (absolute below 1, relative above); the
 *   difference is |p − s|;
 * - tensors: over the tensors both return with the same element count; when the first such output
 *   has class labels (one per element) they agree on its argmax, otherwise when every element agrees
 *   as a regression value does; the difference is the mean |p − s| over all elements compared.
 * Different kinds, no tensor in common or a non-finite difference: not comparable, counted as
 * disagreeing.
 */
export function compareOutputs(primary: ModelOutput, shadow: ModelOutput, options: CompareOptions): Comparison {
  const none: Comparison = { agreed: false, absDiff: null }
  if (primary.kind === 'classes' && shadow.kind === 'classes') {
    const labels = new Set([...Object.keys(primary.scores), ...Object.keys(shadow.scores)])
    let sum = 0
    for (const l of labels) sum += Math.abs((primary.scores[l] ?? 0) - (shadow.scores[l] ?? 0))
    const absDiff = labels.size === 0 ? 0 : sum / labels.size
    return Number.isFinite(absDiff) ? { agreed: primary.label === shadow.label, absDiff } : none
  }
  if (primary.kind === 'regression' && shadow.kind === 'regression') {
    const d = Math.abs(primary.value - shadow.value)
    return Number.isFinite(d)
      ? { agreed: d <= options.tolerance * Math.max(1, Math.abs(primary.value)), absDiff: d }
      : none
  }
  if (primary.kind !== 'tensors' || shadow.kind !== 'tensors') return none
  let sum = 0
  let n = 0
  let within = true
  let classAgreement: boolean | undefined
  for (const [name, p] of Object.entries(primary.tensors)) {
    const s = shadow.tensors[name]
    if (s === undefined || s.data.length !== p.data.length) continue
    for (let i = 0; i < p.data.length; i++) {
      const a = numberAt(p, i)
      const d = Math.abs(a - numberAt(s, i))
      if (!Number.isFinite(d)) return none
      sum += d
      if (d > options.tolerance * Math.max(1, Math.abs(a))) within = false
    }
    n += p.data.length
    const labels = options.labels[name]
    if (classAgreement === undefined && labels !== undefined && labels.length === p.data.length)
      classAgreement = argmax(p) === argmax(s)
  }
  if (n === 0) return none
  return { agreed: classAgreement ?? within, absDiff: sum / n }
}

function argmax(t: TensorData): number {
  let best = 0
  for (let i = 1; i < t.data.length; i++) if (numberAt(t, i) > numberAt(t, best)) best = i
  return best
}

/** A copy of an output that stays valid after the original's tensor buffers are transferred to the page. */
export function keepOutput(output: ModelOutput): ModelOutput {
  if (output.kind !== 'tensors') return output
  const tensors: Record<string, TensorData> = {}
  for (const [name, t] of Object.entries(output.tensors))
    tensors[name] = { dtype: t.dtype, dims: [...t.dims], data: t.data.slice() as TensorData['data'] }
  return { kind: 'tensors', tensors }
}

/** A shadow model's comparisons since the last collect, and the runs it had to skip. */
export class ShadowStats {
  compared = 0
  agreed = 0
  absDiffSum = 0
  /** Shadow runs dropped because the queue was full. */
  dropped = 0

  add(c: Comparison): void {
    this.compared++
    if (c.agreed) this.agreed++
    if (c.absDiff !== null) this.absDiffSum += c.absDiff
  }

  /** The counts so far, starting over. */
  take(): { compared: number; agreed: number; absDiffSum: number; dropped: number } {
    const out = { compared: this.compared, agreed: this.agreed, absDiffSum: this.absDiffSum, dropped: this.dropped }
    this.compared = this.agreed = this.absDiffSum = this.dropped = 0
    return out
  }
}
