import { jsonPointer } from '../core/json-pointer.ts'
import { RolloutConfig, type Guardrail, type RolloutStep, type Targeting } from '../core/formats/rollout.ts'

/** The flags of `edgefleet rollout start` that shape the config (all optional: defaults or the file fill the rest). */
export interface RolloutConfigFlags {
  mode?: RolloutConfig['mode']
  baseline?: number
  steps?: number[]
  minMinutes?: number
  minDevices?: number
  minInferences?: number
  guard?: Guardrail[]
  target?: Targeting
  evaluation?: number
  ttl?: number
  alpha?: number
  shadowSampleRate?: number
}

/** Candidate percents per mode when neither `--steps` nor a file gives them; an `ab` rollout is one fixed split. */
export const DEFAULT_STEPS: Readonly<Record<RolloutConfig['mode'], readonly number[]>> = {
  canary: [1, 5, 25, 50, 100],
  shadow: [1, 5, 25, 50, 100],
  ab: [50],
}

/**
 * What every step must see before it is left, per arm, unless `--min-*` says otherwise: half an
 * hour (a diurnal blip is not a trend), 50 devices (the per-device guardrail tests need a few dozen)
 * and 5000 inferences (about 100 per device).
 */
export const DEFAULT_STEP_MINIMUMS: Readonly<Omit<RolloutStep, 'percent'>> = {
  minMinutes: 30,
  minDevices: 50,
  minInferences: 5000,
}

/** Guardrails of a rollout started without `--guard` or `--file` (DESIGN "Rollouts": the canary's usual two). */
export const DEFAULT_GUARDRAILS: readonly Guardrail[] = [
  { metric: 'error_rate', maxDiff: 0.005, minDevices: 10 },
  { metric: 'latency_p95', maxRatio: 1.2 },
]

/** A config file given with `--file`: its name (for messages) and its parsed JSON. */
export interface ConfigFile {
  name: string
  value: unknown
}

/** Where a bad field came from: a flag (a usage error) or the file (bad data). */
export type ConfigProblem =
  { source: 'flag'; flag: string; message: string } | { source: 'file'; file: string; message: string; pointer: string }

const MIN_FLAGS = {
  minMinutes: '--min-minutes',
  minDevices: '--min-devices',
  minInferences: '--min-inferences',
} as const
const MIN_FLAG_NAMES: Record<string, true> = Object.fromEntries(Object.values(MIN_FLAGS).map((f) => [f, true]))

/** The flag that sets each top-level field. */
const FIELD_FLAGS: Record<string, string> = {
  candidate: '<candidate>',
  baseline: '--baseline',
  mode: '--mode',
  steps: '--steps',
  guardrails: '--guard',
  targeting: '--target',
  evaluationSeconds: '--evaluation',
  ttlSeconds: '--ttl',
  alpha: '--alpha',
  shadowSampleRate: '--shadow-sample-rate',
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)

/**
 * The rollout config `rollout start` sends, checked with core's RolloutConfig before any request.
 * Without a file: the flags over the defaults (canary, DEFAULT_STEPS with DEFAULT_STEP_MINIMUMS,
 * DEFAULT_GUARDRAILS). With a file: the file, with each flag given replacing its field — `--steps`
 * the steps (minimums from `--min-*` or the defaults), `--min-*` alone that minimum of every step of
 * the file, `--guard` all guardrails, `--target key=…` that key of the targeting. The candidate
 * argument must agree with a file that names one: a mismatch is more likely the wrong file than an
 * override. Returns the config or the problem, attributed to the flag or the file that caused it.
 *
 * @example buildRolloutConfig(7, { steps: [5, 50, 100], guard: [...] }) // {value: {candidate: 7, mode: 'canary', steps: [...], …}}
 */
export function buildRolloutConfig(
  candidate: number,
  flags: RolloutConfigFlags,
  file?: ConfigFile,
): { value: RolloutConfig } | { problem: ConfigProblem } {
  if (file !== undefined && !isObject(file.value))
    return {
      problem: { source: 'file', file: file.name, message: 'expected a JSON object (a RolloutConfig)', pointer: '' },
    }
  const base = file?.value as Record<string, unknown> | undefined
  if (base?.candidate !== undefined && base.candidate !== candidate)
    return {
      problem: {
        source: 'flag',
        flag: '<candidate>',
        message: `v${candidate} differs from the candidate in ${file!.name} (${JSON.stringify(base.candidate)})`,
      },
    }

  const minimums = defined({
    minMinutes: flags.minMinutes,
    minDevices: flags.minDevices,
    minInferences: flags.minInferences,
  })
  const mode = flags.mode ?? (base === undefined ? 'canary' : base.mode)
  let steps: unknown = base?.steps
  if (flags.steps !== undefined || base === undefined) {
    const percents = flags.steps ?? DEFAULT_STEPS[mode as RolloutConfig['mode']] ?? DEFAULT_STEPS.canary
    steps = percents.map((percent) => ({ percent, ...DEFAULT_STEP_MINIMUMS, ...minimums }))
  } else if (Array.isArray(steps)) {
    steps = steps.map((s) => (isObject(s) ? { ...s, ...minimums } : s))
  }
  const targeting =
    flags.target === undefined
      ? base?.targeting
      : { ...(isObject(base?.targeting) ? base.targeting : {}), ...flags.target }
  const config = {
    ...base,
    candidate,
    ...defined({
      baseline: flags.baseline,
      mode,
      steps,
      targeting,
      guardrails: flags.guard ?? (base === undefined ? DEFAULT_GUARDRAILS : undefined),
    }),
    ...defined({
      evaluationSeconds: flags.evaluation,
      ttlSeconds: flags.ttl,
      alpha: flags.alpha,
      shadowSampleRate: flags.shadowSampleRate,
    }),
  }

  const parsed = RolloutConfig.safeParse(config)
  if (parsed.success) return { value: parsed.data }
  const issue = parsed.error.issues[0]
  const flag = flagOf(issue.path, flags, base === undefined)
  if (flag === null) {
    const pointer = jsonPointer(issue.path)
    return {
      problem: {
        source: 'file',
        file: file!.name,
        message: `${pointer === '' ? '' : `${pointer.slice(1)}: `}${issue.message}`,
        pointer,
      },
    }
  }
  return {
    problem: {
      source: 'flag',
      flag,
      message: flag in MIN_FLAG_NAMES ? issue.message : describeIssue(issue.path, issue.message),
    },
  }
}

/** The flag responsible for the field at `path`, or null when the file gave it. */
function flagOf(path: readonly PropertyKey[], flags: RolloutConfigFlags, noFile: boolean): string | null {
  const [top, , key] = path
  if (top === 'candidate') return '<candidate>'
  if (
    top === 'steps' &&
    typeof key === 'string' &&
    key in MIN_FLAGS &&
    flags[key as keyof typeof MIN_FLAGS] !== undefined
  )
    return MIN_FLAGS[key as keyof typeof MIN_FLAGS]
  if (noFile) return FIELD_FLAGS[String(top)] ?? 'the config'
  const given: Record<string, boolean> = {
    baseline: flags.baseline !== undefined,
    mode: flags.mode !== undefined,
    steps: flags.steps !== undefined,
    guardrails: flags.guard !== undefined,
    targeting: flags.target !== undefined && (path[1] === undefined || String(path[1]) in flags.target),
    evaluationSeconds: flags.evaluation !== undefined,
    ttlSeconds: flags.ttl !== undefined,
    alpha: flags.alpha !== undefined,
    shadowSampleRate: flags.shadowSampleRate !== undefined,
  }
  return given[String(top)] === true ? FIELD_FLAGS[String(top)] : null
}

/** An issue as a person reads it next to its flag: steps and guardrails counted from 1, seconds named. */
function describeIssue(path: readonly PropertyKey[], message: string): string {
  const [top, index] = path
  if ((top === 'steps' || top === 'guardrails') && typeof index === 'number')
    return `${top === 'steps' ? 'step' : 'guard'} ${index + 1}: ${message}`
  if (top === 'targeting' && index !== undefined) return `${String(index)}: ${message}`
  if (top === 'evaluationSeconds' || top === 'ttlSeconds') return `${message} (seconds)`
  return message
}

/** `obj` without its undefined entries, so spreading it never blanks a field. */
function defined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>
}
