/**
 * @module
 * The OpenSSF model signing manifest (`model_signing` v1.0): an in-toto Statement v1 whose predicate
 * lists one resource `{name, algorithm, digest}` per file of the model, sorted by name, and whose one
 * subject is the model's name with a root digest: SHA-256 over the resources' digests, concatenated in
 * that order. Files are serialized whole (`method: files`, SHA-256), which is what edgefleet stores.
 */
import { toHex } from '../hex.ts'

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1'
export const MODEL_SIGNING_PREDICATE = 'https://model_signing/signature/v1.0'

/** One signed file: its path within the model and the SHA-256 of its bytes (lowercase hex). */
export interface SignedResource {
  name: string
  digest: string
}

/** What a verified statement says: the model's name and the digest of each of its files. */
export interface ModelStatement {
  model: string
  rootDigest: string
  resources: SignedResource[]
}

const HEX64 = /^[0-9a-f]{64}$/

/** Resources sorted by name (code-unit order, as Python's `sorted` orders these names). */
export function sortResources(resources: readonly SignedResource[]): SignedResource[] {
  return [...resources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/** SHA-256 (hex) over the resources' digests, concatenated in the given order. */
export async function rootDigest(resources: readonly SignedResource[]): Promise<string> {
  const all = new Uint8Array(32 * resources.length)
  resources.forEach((r, i) => {
    for (let k = 0; k < 32; k++) all[32 * i + k] = parseInt(r.digest.slice(2 * k, 2 * k + 2), 16)
  })
  return toHex(await crypto.subtle.digest('SHA-256', all))
}

/** The statement to sign for a model's files (paths relative to the model, digests lowercase hex). */
export async function modelStatement(model: string, files: readonly SignedResource[]): Promise<object> {
  const resources = sortResources(files)
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: model, digest: { sha256: await rootDigest(resources) } }],
    predicateType: MODEL_SIGNING_PREDICATE,
    predicate: {
      serialization: { method: 'files', hash_type: 'sha256', allow_symlinks: false },
      resources: resources.map((r) => ({ name: r.name, algorithm: 'sha256', digest: r.digest })),
    },
  }
}

/** Why a statement is not a model signing manifest edgefleet can check. */
export class StatementError extends Error {}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)

/**
 * Reads a signed payload as a model signing v1.0 statement and checks its root digest; throws a
 * StatementError naming what is wrong.
 */
export async function readStatement(payload: Uint8Array): Promise<ModelStatement> {
  let s: unknown
  try {
    s = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(payload))
  } catch {
    throw new StatementError('the signed payload is not UTF-8 JSON')
  }
  if (!isObject(s) || s._type !== STATEMENT_TYPE) throw new StatementError(`the payload is not an ${STATEMENT_TYPE}`)
  if (s.predicateType !== MODEL_SIGNING_PREDICATE)
    throw new StatementError(`predicateType ${JSON.stringify(s.predicateType)} is not ${MODEL_SIGNING_PREDICATE}`)
  const subjects = s.subject
  if (!Array.isArray(subjects) || subjects.length !== 1 || !isObject(subjects[0]))
    throw new StatementError('the statement must have exactly one subject')
  const subject = subjects[0]
  const root = isObject(subject.digest) ? subject.digest.sha256 : undefined
  if (typeof subject.name !== 'string' || typeof root !== 'string' || !HEX64.test(root))
    throw new StatementError('the subject needs a name and a sha256 digest')
  const predicate = s.predicate
  if (!isObject(predicate) || !Array.isArray(predicate.resources))
    throw new StatementError('the predicate lists no resources')
  const resources: SignedResource[] = []
  const seen = new Set<string>()
  for (const [i, r] of predicate.resources.entries()) {
    if (!isObject(r) || typeof r.name !== 'string' || r.algorithm !== 'sha256')
      throw new StatementError(`resource ${i} must have a name and algorithm sha256`)
    if (typeof r.digest !== 'string' || !HEX64.test(r.digest))
      throw new StatementError(`resource ${r.name}: the digest is not 64 lowercase hex digits`)
    if (seen.has(r.name)) throw new StatementError(`resource ${r.name} is listed twice`)
    seen.add(r.name)
    resources.push({ name: r.name, digest: r.digest })
  }
  const computed = await rootDigest(resources)
  if (computed !== root)
    throw new StatementError(`the resources hash to ${computed}, but the subject's digest is ${root}`)
  return { model: subject.name, rootDigest: root, resources }
}

/**
 * What in `files` the statement does not sign: a path it does not list, or lists with another digest.
 * Resources beyond the files (a README in the signed folder) are allowed.
 */
export function unsignedFiles(
  statement: Pick<ModelStatement, 'resources'>,
  files: readonly { path: string; sha256: string }[],
): string[] {
  const signed = new Map(statement.resources.map((r) => [r.name, r.digest]))
  const problems: string[] = []
  for (const f of files) {
    const digest = signed.get(f.path)
    if (digest === undefined) problems.push(`${f.path} is not in the signed manifest`)
    else if (digest !== f.sha256) problems.push(`${f.path} has sha256 ${f.sha256}, the signature says ${digest}`)
  }
  return problems
}
