import { EdgefleetError } from '../../core/errors.ts'
import { toHex } from '../../core/hex.ts'

/** Artifacts live in R2 under their content address. */
export function artifactKey(sha256: string): string {
  return `artifacts/${sha256}`
}

/** Size of a stored artifact, or null when absent. */
export async function artifactSize(bucket: R2Bucket, sha256: string): Promise<number | null> {
  const head = await bucket.head(artifactKey(sha256))
  return head ? head.size : null
}

/**
 * Streams a body into R2 under its hash. R2 checks the SHA-256 itself while it writes and refuses
 * the object on a mismatch, so no byte that does not hash to its name is ever stored, and the body is
 * never buffered in the Worker. Existing bytes are not stored again; the body is read and dropped so
 * the client still gets its answer (a client that sends `If-None-Match: *` is told before sending).
 */
export async function putArtifact(
  bucket: R2Bucket,
  sha256: string,
  body: ReadableStream<Uint8Array>,
  size: number,
): Promise<{ created: boolean }> {
  const existing = await bucket.head(artifactKey(sha256))
  if (existing) {
    if (existing.size !== size) {
      await body.cancel().catch(() => undefined)
      throw new EdgefleetError(
        'hash_mismatch',
        `an artifact with this hash exists with ${existing.size} bytes, not ${size}`,
      )
    }
    // Already stored: the upload changes nothing, but bytes that are not these are still refused.
    const hash = await digestOf(body)
    if (hash !== sha256)
      throw new EdgefleetError(
        'hash_mismatch',
        `the uploaded bytes hash to ${hash ?? 'nothing (cut short)'}, not ${sha256}; nothing was stored`,
      )
    return { created: false }
  }
  try {
    await bucket.put(artifactKey(sha256), body, {
      sha256,
      httpMetadata: { contentType: 'application/octet-stream', cacheControl: 'public, max-age=31536000, immutable' },
    })
  } catch (cause) {
    throw new EdgefleetError(
      'hash_mismatch',
      'the uploaded bytes do not hash to the name (or were cut short); nothing was stored',
      { cause },
    )
  }
  return { created: true }
}

/** SHA-256 (hex) of a whole stream; undefined when the stream fails (a client cut short). */
async function digestOf(body: ReadableStream<Uint8Array>): Promise<string | undefined> {
  const digest = new crypto.DigestStream('SHA-256')
  digest.digest.catch(() => undefined)
  try {
    await body.pipeTo(digest)
    return toHex(await digest.digest)
  } catch {
    return undefined
  }
}

/** A parsed single `Range: bytes=…` request; null when absent or not a single byte range (served whole). */
export function parseRange(
  header: string | null | undefined,
  size: number,
): { offset: number; length: number } | 'unsatisfiable' | null {
  if (!header) return null
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) return null
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0) return 'unsatisfiable'
    const length = Math.min(suffix, size)
    return { offset: size - length, length }
  }
  const start = Number(m[1])
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (m[2] !== '' && Number(m[2]) < start) return null
  if (start >= size) return 'unsatisfiable'
  return { offset: start, length: end - start + 1 }
}

/** Content encodings an artifact may also be stored in (verified at upload by decoding them in the Worker). */
export const ARTIFACT_ENCODINGS = ['gzip'] as const
export type ArtifactEncoding = (typeof ARTIFACT_ENCODINGS)[number]

/** Where an encoded variant of an artifact lives. */
export function variantKey(sha256: string, encoding: ArtifactEncoding): string {
  return `artifacts/${sha256}.${encoding}`
}

/**
 * Stores an encoded variant of an existing artifact, only once it is proven to decode to exactly the
 * artifact's bytes: the upload goes to a pending key while a second branch decodes and hashes it; only
 * a variant that decodes to the same SHA-256 and size is copied to its served key. A failed one is
 * deleted; nothing unverified is ever served.
 */
export async function putVariant(
  bucket: R2Bucket,
  sha256: string,
  encoding: ArtifactEncoding,
  body: ReadableStream<Uint8Array>,
  size: number,
  pendingId: string,
): Promise<{ created: boolean; size: number }> {
  const identity = await bucket.head(artifactKey(sha256))
  if (!identity) {
    await body.cancel().catch(() => undefined)
    throw new EdgefleetError('artifact_missing', `no artifact ${sha256}: upload its bytes before an encoding of them`)
  }
  const existing = await bucket.head(variantKey(sha256, encoding))
  if (existing) {
    // Already stored: nothing changes, but an upload that does not decode to the artifact is refused.
    const digest = new crypto.DigestStream('SHA-256')
    digest.digest.catch(() => undefined)
    const hash = await decodeInto(body, encoding, digest, () => undefined, identity.size).then(
      async () => toHex(await digest.digest),
      () => undefined,
    )
    if (hash !== sha256)
      throw new EdgefleetError(
        'hash_mismatch',
        `the ${encoding} upload does not decode to the artifact ${sha256}; nothing was stored`,
      )
    return { created: false, size: existing.size }
  }
  const pending = `pending/${sha256}.${encoding}.${pendingId}`
  const [toStore, toCheck] = body.tee()
  const fixed = new FixedLengthStream(size)
  const stored = bucket.put(pending, fixed.readable)
  const copied = toStore.pipeTo(fixed.writable)
  const digest = new crypto.DigestStream('SHA-256')
  // A body that does not decode aborts the digest, whose result is then never read: observe it here.
  digest.digest.catch(() => undefined)
  let decoded = 0
  const checked = decodeInto(toCheck, encoding, digest, (n) => (decoded += n), identity.size)
  const results = await Promise.allSettled([stored, copied, checked])
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) {
    await bucket.delete(pending)
    throw new EdgefleetError(
      'hash_mismatch',
      `the ${encoding} upload does not decode (or was cut short); nothing was stored`,
      { cause: failed.reason },
    )
  }
  const hash = toHex(await digest.digest)
  if (hash !== sha256 || decoded !== identity.size) {
    await bucket.delete(pending)
    throw new EdgefleetError(
      'hash_mismatch',
      `the ${encoding} upload decodes to ${decoded} bytes hashing to ${hash}, not the artifact's ${identity.size} bytes; nothing was stored`,
    )
  }
  const verified = await bucket.get(pending)
  if (!verified) throw new EdgefleetError('internal', 'the verified upload vanished before it was stored')
  await bucket.put(variantKey(sha256, encoding), verified.body, {
    httpMetadata: { contentType: 'application/octet-stream', contentEncoding: encoding },
  })
  await bucket.delete(pending)
  return { created: true, size }
}

/**
 * Decodes `source` through the platform's DecompressionStream into `digest`, counting decoded bytes;
 * rejects when it does not decode, or as soon as it decodes to more than `limit` bytes (a bomb is
 * stopped at the artifact's size, not inflated to the end).
 */
async function decodeInto(
  source: ReadableStream<Uint8Array>,
  encoding: ArtifactEncoding,
  digest: WritableStream<ArrayBuffer | ArrayBufferView>,
  onDecoded: (n: number) => void,
  limit: number,
): Promise<void> {
  let total = 0
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      total += chunk.byteLength
      onDecoded(chunk.byteLength)
      if (total > limit) controller.error(new Error(`decodes to more than ${limit} bytes`))
      else controller.enqueue(chunk)
    },
  })
  await source.pipeThrough(new DecompressionStream(encoding)).pipeThrough(counter).pipeTo(digest)
}

/** The best stored encoding the request accepts (`Accept-Encoding` with q > 0), or null for identity. */
export function acceptedEncoding(header: string | null | undefined): ArtifactEncoding | null {
  if (!header) return null
  for (const part of header.split(',')) {
    const [token, ...params] = part.trim().toLowerCase().split(';')
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((x) => x !== undefined)
    if ((ARTIFACT_ENCODINGS as readonly string[]).includes(token) && (q === undefined || Number(q) > 0))
      return token as ArtifactEncoding
  }
  return null
}
