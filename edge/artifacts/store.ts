import { EdgefleetError } from '../../core/errors.ts'

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
    await body.pipeTo(new WritableStream()).catch(() => undefined)
    if (existing.size !== size)
      throw new EdgefleetError(
        'hash_mismatch',
        `an artifact with this hash exists with ${existing.size} bytes, not ${size}`,
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
