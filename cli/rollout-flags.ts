import { InvalidArgumentError } from 'commander'
import type * as z from 'zod'
import { RolloutId } from '../core/formats/common.ts'
import { Guardrail, Targeting } from '../core/formats/rollout.ts'

/**
 * Commander parsers for `edgefleet rollout start`'s flags. They check syntax and, where a flag is a
 * whole object (`--guard`, `--target`), the object against core's schema, so a bad value is refused
 * with the flag's name before anything is assembled; `rollout-config.ts` checks the whole config.
 */

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i

function numberOf(text: string): number | null {
  return NUMBER.test(text.trim()) ? Number(text) : null
}

/** Commander parser for a plain number (`0.05`, `1e-3`); ranges are the config schema's business. */
export function numberOption(value: string): number {
  const x = numberOf(value)
  if (x === null || !Number.isFinite(x)) throw new InvalidArgumentError('expected a number')
  return x
}

/** Commander parser for `--steps 1,5,25,50,100`: candidate percents in order. */
export function stepsOption(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim())
  const bad = parts.find((p) => numberOf(p) === null)
  if (bad !== undefined)
    throw new InvalidArgumentError(
      `${bad === '' ? 'an empty step' : `"${bad}"`} is not a percent; expected e.g. 1,5,25,50,100`,
    )
  return parts.map(Number)
}

const DURATION = /^\s*(\d{1,6})\s*(s|m|h)?\s*$/
const SECONDS = { s: 1, m: 60, h: 3600 } as const

/** Commander parser for `--evaluation 5m | 300s | 300 | 1h`, in seconds. */
export function secondsDurationOption(value: string): number {
  const m = DURATION.exec(value)
  if (m === null) throw new InvalidArgumentError('expected a duration such as 300s, 5m or 1h')
  return Number(m[1]) * SECONDS[(m[2] ?? 's') as keyof typeof SECONDS]
}

/** Commander parser for `--id`: a rollout id as the edge issues them. */
export function rolloutIdOption(value: string): string {
  if (!RolloutId.safeParse(value).success)
    throw new InvalidArgumentError('expected a rollout id such as ro_3f9a2c1e5b7d9f11')
  return value
}

type GuardrailSchema = (typeof Guardrail.options)[number]

/** The schema of each guardrail metric, read off core's union so a new guardrail needs no change here. */
const GUARD_SCHEMAS: ReadonlyMap<string, GuardrailSchema> = new Map(
  Guardrail.options.flatMap((schema) => {
    const metric = schema.shape.metric
    const names: readonly string[] = 'options' in metric ? metric.options : [...metric.values].map(String)
    return names.map((name) => [name, schema] as const)
  }),
)

/** The keys a guardrail of `schema` takes besides `metric`. */
function guardKeys(schema: GuardrailSchema): string[] {
  return Object.keys(schema.shape).filter((k) => k !== 'metric')
}

/** The first issue of a failed parse as `key: message` (a cross-field rule's message stands alone). */
function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0]
  return issue.code === 'custom' || issue.path.length === 0
    ? issue.message
    : `${issue.path.join('/')}: ${issue.message}`
}

/** Guardrail keys whose values are words (`slice_gap:dimension=platform,measure=accuracy`); the schema checks them. */
const TEXT_KEYS: ReadonlySet<string> = new Set(['dimension', 'measure'])

/**
 * Commander parser for repeatable `--guard metric:key=value[,key=value]` (`error_rate:maxDiff=0.005`,
 * `latency_p95:maxRatio=1.2`, `data_quality:maxRate=0.05,absolute=true`,
 * `slice_gap:dimension=platform,max=0.05`), each checked against its guardrail schema and collected
 * in order; values are numbers, `true`/`false`, or words for `dimension` and `measure`.
 *
 * @example guardOption('error_rate:max=0.01') // [{metric: 'error_rate', max: 0.01, minDevices: 10}]
 */
export function guardOption(value: string, previous: Guardrail[] = []): Guardrail[] {
  const m = /^\s*([A-Za-z0-9_]+)\s*:(.*)$/.exec(value)
  if (m === null) throw new InvalidArgumentError('expected metric:key=value[,key=value], e.g. error_rate:maxDiff=0.005')
  const metric = m[1]
  const schema = GUARD_SCHEMAS.get(metric)
  if (schema === undefined)
    throw new InvalidArgumentError(`unknown metric "${metric}" (${[...GUARD_SCHEMAS.keys()].join(', ')})`)
  const keys = guardKeys(schema)
  const guard: Record<string, unknown> = { metric }
  for (const pair of m[2].split(',')) {
    const kv = /^\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*$/.exec(pair)
    if (kv === null)
      throw new InvalidArgumentError(`expected key=value, got "${pair.trim()}" (${metric} takes ${keys.join(', ')})`)
    const [, key, text] = kv
    if (!keys.includes(key)) throw new InvalidArgumentError(`unknown key "${key}" for ${metric} (${keys.join(', ')})`)
    if (key in guard) throw new InvalidArgumentError(`${key} given twice`)
    if (text === 'true' || text === 'false') {
      guard[key] = text === 'true'
      continue
    }
    const x = numberOf(text)
    if (x === null && TEXT_KEYS.has(key)) guard[key] = text
    else if (x === null) throw new InvalidArgumentError(`${key}: expected a number, got "${text}"`)
    else guard[key] = x
  }
  const parsed = schema.safeParse(guard)
  if (!parsed.success) throw new InvalidArgumentError(`${metric}: ${firstIssue(parsed.error)}`)
  return [...previous, parsed.data]
}

/** How each targeting key is written on the command line; `satisfies` keeps it in step with the schema. */
const TARGET_KINDS = {
  webgpu: 'boolean',
  f16: 'boolean',
  minDeviceMemory: 'number',
  platforms: 'list',
  devices: 'list',
  cohorts: 'list',
} as const satisfies Record<keyof Targeting, 'boolean' | 'number' | 'list'>

/**
 * Commander parser for repeatable `--target key=value` (`webgpu=true`, `minDeviceMemory=4`,
 * `platforms=linux,macos`, `devices=id1,id2`, `cohorts=store-0001,store-0002`), merged into one Targeting. A list key given again
 * appends; any other key given twice is refused.
 *
 * @example targetOption('platforms=linux,macos', { webgpu: true }) // {webgpu: true, platforms: ['linux', 'macos']}
 */
export function targetOption(value: string, previous: Targeting = {}): Targeting {
  const names = Object.keys(TARGET_KINDS)
  const m = /^\s*([A-Za-z0-9_]+)\s*=(.*)$/.exec(value)
  if (m === null)
    throw new InvalidArgumentError(`expected key=value with a key of ${names.join(', ')}, e.g. webgpu=true`)
  const key = m[1]
  if (!(key in TARGET_KINDS)) throw new InvalidArgumentError(`unknown target "${key}" (${names.join(', ')})`)
  const name = key as keyof Targeting
  const text = m[2].trim()
  let parsed: unknown
  switch (TARGET_KINDS[name]) {
    case 'boolean':
      if (text !== 'true' && text !== 'false')
        throw new InvalidArgumentError(`${name}: expected true or false, got "${text}"`)
      parsed = text === 'true'
      break
    case 'number':
      parsed = numberOf(text)
      if (parsed === null) throw new InvalidArgumentError(`${name}: expected a number, got "${text}"`)
      break
    case 'list':
      parsed = [
        ...((previous[name] as string[] | undefined) ?? []),
        ...text
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      ]
      if ((parsed as string[]).length === 0)
        throw new InvalidArgumentError(`${name}: expected a comma-separated list, e.g. ${name}=a,b`)
  }
  if (TARGET_KINDS[name] !== 'list' && previous[name] !== undefined)
    throw new InvalidArgumentError(`${name} given twice`)
  const checked = Targeting.safeParse({ ...previous, [name]: parsed })
  if (!checked.success) throw new InvalidArgumentError(firstIssue(checked.error))
  return checked.data
}
