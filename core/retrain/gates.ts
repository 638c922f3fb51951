/**
 * @module
 * Validation gates of a retrained (or externally trained) model, pure: parsed from flags such as
 * `accuracy:min=0.6` or `sliceGap:by=month,max=0.25`, judged on holdout evidence, each answered with
 * its value, limit, verdict and one line a person can read. The CLI measures; this decides.
 */
import { EdgefleetError } from '../errors.ts'
import type { GateResult, RunMetrics } from '../formats/run.ts'

/** The candidate must beat the majority-class predictor by this much (accuracy points) unless told otherwise. */
export const DEFAULT_BASELINE_DELTA = 0.05
/** Slices with fewer holdout rows than this are too noisy for the slice-gap gate. */
export const DEFAULT_SLICE_MIN_ROWS = 20

/** One gate as configured. */
export type GateSpec =
  | { kind: 'accuracy:min'; min: number }
  | { kind: 'accuracy:minDelta'; delta: number }
  | { kind: 'baseline:minDelta'; delta: number }
  | { kind: 'sliceGap'; by: string; max: number; minRows: number }
  | { kind: 'size:maxBytes'; max: number }
  | { kind: 'latency:maxMs'; max: number }

/** What the gates judge: the candidate's holdout metrics, the champion's on the same rows, the majority predictor's accuracy. */
export interface GateEvidence {
  candidate: RunMetrics
  /** The production version's metrics, or null when there is none (then the champion is the majority predictor). */
  champion: { label: string; metrics: RunMetrics } | null
  majorityAccuracy: number
}

const GATE_HELP =
  'accuracy:min=<0..1>, accuracy:minDelta=<d>, baseline:minDelta=<d>, sliceGap:by=<column>,max=<gap>[,minRows=<n>], size:maxBytes=<n>, latency:maxMs=<ms>'

/**
 * Parses one `--gate` flag. Throws `bad_request` naming the flag and the accepted forms.
 *
 * @example parseGate('sliceGap:by=month,max=0.25') // { kind: 'sliceGap', by: 'month', max: 0.25, minRows: 20 }
 */
export function parseGate(text: string): GateSpec {
  const m = /^([a-zA-Z]+):(.+)$/.exec(text.trim())
  const fail = (why: string): never => {
    throw new EdgefleetError('bad_request', `--gate ${text}: ${why} (gates: ${GATE_HELP})`)
  }
  if (m === null) return fail('expected <kind>:<parameters>')
  const [, head, rest] = m
  const params = new Map<string, string>()
  for (const part of rest.split(',')) {
    const kv = /^\s*([a-zA-Z]+)\s*=\s*(.+?)\s*$/.exec(part)
    if (kv === null) return fail(`"${part}" is not name=value`)
    params.set(kv[1], kv[2])
  }
  const num = (key: string, range: [number, number]): number => {
    const raw = params.get(key)
    if (raw === undefined) return fail(`missing ${key}=`)
    const x = Number(raw)
    if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(raw) || !(x >= range[0] && x <= range[1]))
      return fail(`${key} must be a number from ${range[0]} to ${range[1]}`)
    return x
  }
  const only = (...keys: string[]) => {
    for (const k of params.keys()) if (!keys.includes(k)) fail(`unknown parameter ${k}`)
  }
  const single = (key: string): string => {
    only(key)
    return key
  }
  switch (`${head}:${[...params.keys()][0]}`) {
    case 'accuracy:min':
      return { kind: 'accuracy:min', min: num(single('min'), [0, 1]) }
    case 'accuracy:minDelta':
      return { kind: 'accuracy:minDelta', delta: num(single('minDelta'), [-1, 1]) }
    case 'baseline:minDelta':
      return { kind: 'baseline:minDelta', delta: num(single('minDelta'), [-1, 1]) }
    case 'size:maxBytes':
      return { kind: 'size:maxBytes', max: num(single('maxBytes'), [0, Number.MAX_SAFE_INTEGER]) }
    case 'latency:maxMs':
      return { kind: 'latency:maxMs', max: num(single('maxMs'), [0, 3_600_000]) }
  }
  if (head === 'sliceGap') {
    only('by', 'max', 'minRows')
    const by = params.get('by')
    if (by === undefined) return fail('missing by=<column>')
    const minRows = params.has('minRows') ? num('minRows', [1, 1_000_000]) : DEFAULT_SLICE_MIN_ROWS
    return { kind: 'sliceGap', by, max: num('max', [0, 1]), minRows }
  }
  return fail('unknown gate')
}

/** The gates to judge: the given ones, plus the majority-baseline gate at its default unless one was given. */
export function withDefaultGates(specs: readonly GateSpec[]): GateSpec[] {
  return specs.some((s) => s.kind === 'baseline:minDelta')
    ? [...specs]
    : [{ kind: 'baseline:minDelta', delta: DEFAULT_BASELINE_DELTA }, ...specs]
}

/** The name a gate is recorded under: its kind, with the column for a slice gap. */
export function gateName(spec: GateSpec): string {
  return spec.kind === 'sliceGap' ? `sliceGap:${spec.by}` : spec.kind
}

/** Judges every gate in order; a gate that cannot be measured fails and says why. */
export function evaluateGates(specs: readonly GateSpec[], evidence: GateEvidence): GateResult[] {
  return specs.map((s) => evaluateGate(s, evidence))
}

/** The gates that failed, as one line: `gate accuracy:min failed: holdout accuracy 0.412 < 0.600; …`. */
export function rejectionLine(results: readonly GateResult[]): string | null {
  const failed = results.filter((r) => !r.passed)
  return failed.length === 0 ? null : failed.map((r) => `gate ${r.gate} failed: ${r.message}`).join('; ')
}

function evaluateGate(spec: GateSpec, e: GateEvidence): GateResult {
  const gate = gateName(spec)
  const acc = e.candidate.accuracy
  const f3 = (x: number) => x.toFixed(3)
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`
  switch (spec.kind) {
    case 'accuracy:min': {
      const passed = acc >= spec.min
      return {
        gate,
        value: acc,
        limit: spec.min,
        passed,
        message: `holdout accuracy ${f3(acc)} ${passed ? '≥' : '<'} ${f3(spec.min)}`,
      }
    }
    case 'accuracy:minDelta': {
      const champion = e.champion ?? {
        label: 'the majority-class predictor',
        metrics: { accuracy: e.majorityAccuracy },
      }
      const delta = acc - champion.metrics.accuracy
      const passed = delta >= spec.delta - 1e-12
      return {
        gate,
        value: delta,
        limit: spec.delta,
        passed,
        message: `accuracy ${f3(acc)} vs ${champion.label} ${f3(champion.metrics.accuracy)}: ${signed(delta)} ${passed ? '≥' : '<'} ${signed(spec.delta)}`,
      }
    }
    case 'baseline:minDelta': {
      const delta = acc - e.majorityAccuracy
      const passed = delta >= spec.delta - 1e-12
      return {
        gate,
        value: delta,
        limit: spec.delta,
        passed,
        message: `accuracy ${f3(acc)} vs majority class ${f3(e.majorityAccuracy)}: ${signed(delta)} ${passed ? '≥' : '<'} ${signed(spec.delta)}`,
      }
    }
    case 'sliceGap': {
      const slices = Object.entries(e.candidate.perSlice[spec.by] ?? {}).filter(([, g]) => g.n >= spec.minRows)
      if (slices.length < 2)
        return {
          gate,
          value: null,
          limit: spec.max,
          passed: false,
          message: `${slices.length} slice${slices.length === 1 ? '' : 's'} of "${spec.by}" with ≥ ${spec.minRows} holdout rows; the gap needs 2`,
        }
      const sorted = slices.sort((a, b) => a[1].accuracy - b[1].accuracy)
      const [lo, hi] = [sorted[0], sorted[sorted.length - 1]]
      const gap = hi[1].accuracy - lo[1].accuracy
      const passed = gap <= spec.max + 1e-12
      return {
        gate,
        value: gap,
        limit: spec.max,
        passed,
        message: `accuracy gap ${f3(gap)} between ${spec.by}=${hi[0]} (${f3(hi[1].accuracy)}) and ${spec.by}=${lo[0]} (${f3(lo[1].accuracy)}) ${passed ? '≤' : '>'} ${f3(spec.max)}`,
      }
    }
    case 'size:maxBytes': {
      const bytes = e.candidate.bytes
      if (bytes === undefined)
        return { gate, value: null, limit: spec.max, passed: false, message: 'the model size was not measured' }
      const passed = bytes <= spec.max
      return {
        gate,
        value: bytes,
        limit: spec.max,
        passed,
        message: `${bytes} bytes ${passed ? '≤' : '>'} ${spec.max}`,
      }
    }
    case 'latency:maxMs': {
      const p95 = e.candidate.latencyP95Ms
      if (p95 === undefined)
        return { gate, value: null, limit: spec.max, passed: false, message: 'the latency was not measured' }
      const passed = p95 <= spec.max
      return {
        gate,
        value: p95,
        limit: spec.max,
        passed,
        message: `p95 latency ${p95.toFixed(3)} ms ${passed ? '≤' : '>'} ${spec.max} ms`,
      }
    }
  }
}
