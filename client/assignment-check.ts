/**
 * @module
 * What the SDK checks of an assignment before acting on it, without bundling the validation library:
 * the fields it acts on (what to download and verify, how to run and report it) must be there with the
 * right types. The edge validates assignments against the full `Assignment` schema (core/formats/
 * assignment.ts) before sending them; signature and profile are checked again where they are used (the
 * worker refuses a load it cannot featurize or bin). Golden vectors hold this check to that schema.
 */
import { EdgefleetError } from '../core/errors.ts'
import type { Assignment } from '../core/formats/assignment.ts'
import { HF_DTYPES, HF_FILE_ROLES } from '../core/formats/hf-names.ts'

const SHA256 = /^[0-9a-f]{64}$/
const FORMATS = ['onnx', 'tfjs-layers', 'tfjs-graph', 'hf-onnx']
const ROLES = ['primary', 'shadow']
const ARMS = ['baseline', 'candidate']

type Check = (v: unknown) => boolean
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check =>
  (v) =>
    Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max
const rate: Check = (v) => typeof v === 'number' && v > 0 && v <= 1
const oneOf =
  (values: readonly string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v)
const text: Check = (v) => typeof v === 'string' && v.length > 0
/** A relative path with forward slashes, no `..` segment (as the registry's FilePath). */
const path: Check = (v) =>
  typeof v === 'string' &&
  v.length > 0 &&
  v.length <= 512 &&
  !v.startsWith('/') &&
  !v.includes('\\') &&
  !v.split('/').includes('..')
const file: Check = (v) =>
  isObject(v) &&
  path(v.path) &&
  text(v.url) &&
  typeof v.sha256 === 'string' &&
  SHA256.test(v.sha256) &&
  int(0)(v.size) &&
  (v.role === undefined || oneOf(HF_FILE_ROLES)(v.role)) &&
  (v.dtype === undefined || oneOf(HF_DTYPES)(v.dtype))
const files: Check = (v) => Array.isArray(v) && v.length > 0 && v.every(file)
const variant: Check = (v) => typeof v === 'string' && /^[a-z0-9][a-z0-9_-]{0,31}$/.test(v)
const backends: Check = (v) =>
  Array.isArray(v) && v.length > 0 && v.length <= 4 && v.every((b) => typeof b === 'string' && b.length > 0)

/** Checks `fields` of `value`, throwing `validation_failed` with the pointer of the first bad one. */
function require(value: Record<string, unknown>, fields: Record<string, Check>, at: string, optional = false): void {
  for (const [name, check] of Object.entries(fields)) {
    if (optional && value[name] === undefined) continue
    if (!check(value[name]))
      throw new EdgefleetError(
        'validation_failed',
        `the edge sent an assignment this SDK cannot read (at ${at}/${name})`,
        {
          pointer: `${at}/${name}`,
        },
      )
  }
}

/** The assignment in `body`, or `validation_failed` naming the first field the SDK cannot act on. */
export function readAssignment(body: unknown): Assignment {
  if (!isObject(body))
    throw new EdgefleetError('validation_failed', 'the edge sent an assignment this SDK cannot read', { pointer: '' })
  require(body, {
    model: text,
    version: int(1),
    role: oneOf(ROLES),
    format: oneOf(FORMATS),
    files,
    telemetry: (t) =>
      isObject(t) && rate(t.sampleRate) && int(60, 3600)(t.windowSeconds) && int(5, 3600)(t.flushSeconds),
    ttlSeconds: int(1, 60),
  }, '')
  require(body, {
    signature: isObject,
    profile: isObject,
    sigstoreBundle: isObject,
    rollout: isObject,
    shadow: isObject,
    variant,
    backends,
  }, '', true)
  if (isObject(body.rollout))
    require(body.rollout, {
      id: (v) => typeof v === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(v),
      arm: oneOf(ARMS),
      mode: oneOf(['canary', 'ab', 'shadow']),
    }, '/rollout')
  if (isObject(body.shadow)) {
    require(body.shadow, { version: int(1), format: oneOf(FORMATS), files, sampleRate: rate }, '/shadow')
    require(body.shadow, { sigstoreBundle: isObject, variant, backends }, '/shadow', true)
  }
  return body as unknown as Assignment
}
