/**
 * @module
 * Multipart uploads of large artifacts into R2. Everything an upload needs to be resumed lives in R2
 * beside it, under `uploads/{sha256}/`: the upload's id and sizes (`upload`), one small object per part
 * received (`parts/{n}`, its ETag in custom metadata: a Worker cannot list an R2 upload's parts), and,
 * while it is checked, the assembled object (`object`). Completing assembles the parts under that
 * pending key, then copies the object to its content address with R2's own SHA-256 check: bytes that do
 * not hash to the name are never stored as the artifact, and the upload is aborted.
 */
import { EdgefleetError } from '../../core/errors.ts'
import {
  partCount,
  partSize,
  type ArtifactUpload,
  type CreateUpload,
  type UploadedPart,
} from '../../core/formats/artifact-uploads.ts'
import { artifactKey } from './store.ts'

interface UploadState {
  uploadId: string
  size: number
  partBytes: number
}

const stateKey = (sha256: string) => `uploads/${sha256}/upload`
const partKey = (sha256: string, n: number) => `uploads/${sha256}/parts/${String(n).padStart(5, '0')}`
const pendingKey = (sha256: string) => `uploads/${sha256}/object`

async function readState(bucket: R2Bucket, sha256: string): Promise<UploadState | null> {
  const obj = await bucket.get(stateKey(sha256))
  return obj ? ((await obj.json()) as UploadState) : null
}

/** The upload with this id, or `not_found` (never created, completed, or aborted). */
async function stateOf(bucket: R2Bucket, sha256: string, uploadId: string): Promise<UploadState> {
  const state = await readState(bucket, sha256)
  if (!state || state.uploadId !== uploadId)
    throw new EdgefleetError(
      'not_found',
      `no upload ${uploadId} of ${sha256} in progress (completed, aborted or never created)`,
    )
  return state
}

/** The parts of the upload received so far, by part number, with their R2 ETags. */
async function receivedParts(
  bucket: R2Bucket,
  sha256: string,
  uploadId: string,
): Promise<(UploadedPart & { etag: string })[]> {
  const parts: (UploadedPart & { etag: string })[] = []
  let cursor: string | undefined
  do {
    const page = await bucket.list({ prefix: `uploads/${sha256}/parts/`, cursor, include: ['customMetadata'] })
    for (const o of page.objects) {
      const m = o.customMetadata ?? {}
      // Records of an earlier, aborted upload of the same bytes are not this upload's parts.
      if (m.uploadId !== uploadId || m.etag === undefined) continue
      parts.push({ partNumber: Number(m.partNumber), size: Number(m.size), etag: m.etag })
    }
    cursor = page.truncated ? page.cursor : undefined
  } while (cursor)
  return parts.sort((a, b) => a.partNumber - b.partNumber)
}

/** Deletes every record of uploads of these bytes (state, part records, pending object). */
async function forget(bucket: R2Bucket, sha256: string): Promise<void> {
  let cursor: string | undefined
  do {
    const page = await bucket.list({ prefix: `uploads/${sha256}/`, cursor })
    if (page.objects.length) await bucket.delete(page.objects.map((o) => o.key))
    cursor = page.truncated ? page.cursor : undefined
  } while (cursor)
}

const view = (sha256: string, s: UploadState, parts: UploadedPart[], stored: boolean): ArtifactUpload => ({
  sha256,
  uploadId: s.uploadId,
  size: s.size,
  partBytes: s.partBytes,
  partCount: partCount(s.size, s.partBytes),
  parts: parts.map(({ partNumber, size }) => ({ partNumber, size })),
  stored,
})

/**
 * Starts an upload of the artifact, or answers the one in progress for the same bytes (a re-run resumes
 * it: `parts` lists what the edge holds). An upload of the same hash with another size or part size is
 * `conflict`: abort it first. `stored` is true, and nothing is started, when the artifact exists.
 */
export async function createUpload(
  bucket: R2Bucket,
  sha256: string,
  want: CreateUpload,
): Promise<{ upload: ArtifactUpload; created: boolean }> {
  const existing = await bucket.head(artifactKey(sha256))
  if (existing) {
    if (existing.size !== want.size)
      throw new EdgefleetError(
        'hash_mismatch',
        `an artifact with this hash exists with ${existing.size} bytes, not ${want.size}`,
      )
    return { upload: view(sha256, { uploadId: '', ...want }, [], true), created: false }
  }
  const state = await readState(bucket, sha256)
  if (state) {
    if (state.size !== want.size || state.partBytes !== want.partBytes)
      throw new EdgefleetError(
        'conflict',
        `upload ${state.uploadId} of ${sha256} is in progress with ${state.size} bytes in parts of ${state.partBytes}; abort it to start another`,
        { data: { uploadId: state.uploadId, size: state.size, partBytes: state.partBytes } },
      )
    return { upload: view(sha256, state, await receivedParts(bucket, sha256, state.uploadId), false), created: false }
  }
  const upload = await bucket.createMultipartUpload(pendingKey(sha256), {
    httpMetadata: { contentType: 'application/octet-stream' },
  })
  const fresh: UploadState = { uploadId: upload.uploadId, ...want }
  await bucket.put(stateKey(sha256), JSON.stringify(fresh))
  return { upload: view(sha256, fresh, [], false), created: true }
}

/**
 * Streams one part into the upload. Its size must be exactly what its number implies (`partBytes`, or
 * the remainder for the last), so the assembled object has the declared size. Sending a part again
 * replaces it.
 */
export async function putPart(
  bucket: R2Bucket,
  target: { sha256: string; uploadId: string; partNumber: number },
  body: ReadableStream<Uint8Array>,
  length: number,
): Promise<UploadedPart> {
  const { sha256, uploadId, partNumber } = target
  const state = await stateOf(bucket, sha256, uploadId)
  const expected = partSize(state.size, state.partBytes, partNumber)
  if (expected === null)
    throw new EdgefleetError(
      'validation_failed',
      `part ${partNumber} is out of range: this upload has parts 1 to ${partCount(state.size, state.partBytes)}`,
      { pointer: '/partNumber' },
    )
  if (length !== expected)
    throw new EdgefleetError('validation_failed', `part ${partNumber} has ${expected} bytes, not ${length}`, {
      pointer: '/partNumber',
    })
  const upload = bucket.resumeMultipartUpload(pendingKey(sha256), uploadId)
  let part: R2UploadedPart
  try {
    part = await upload.uploadPart(partNumber, body)
  } catch (cause) {
    throw new EdgefleetError('bad_request', `part ${partNumber} was cut short or refused by storage; send it again`, {
      cause,
    })
  }
  await bucket.put(partKey(sha256, partNumber), '', {
    customMetadata: { uploadId, partNumber: String(partNumber), size: String(length), etag: part.etag },
  })
  return { partNumber, size: length }
}

/**
 * Assembles the parts and stores the object under its hash if, and only if, it hashes to it. A missing
 * part is `conflict` (listing what is missing; the upload stays); bytes that do not hash to the name
 * are `hash_mismatch`, and the upload is aborted: nothing of it is kept.
 */
export async function completeUpload(
  bucket: R2Bucket,
  sha256: string,
  uploadId: string,
): Promise<{ sha256: string; size: number; created: boolean }> {
  const s = await stateOf(bucket, sha256, uploadId)
  const parts = await receivedParts(bucket, sha256, uploadId)
  const count = partCount(s.size, s.partBytes)
  const have = new Set(parts.map((p) => p.partNumber))
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((n) => !have.has(n))
  if (missing.length)
    throw new EdgefleetError(
      'conflict',
      `the upload lacks ${missing.length} of ${count} parts: ${missing.slice(0, 20).join(', ')}`,
      {
        data: { missing },
      },
    )
  const upload = bucket.resumeMultipartUpload(pendingKey(sha256), uploadId)
  let assembled: R2Object
  try {
    assembled = await upload.complete(parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag })))
  } catch (cause) {
    // R2 no longer knows the upload (aborted by a lifecycle rule after days) or refused its parts.
    await forget(bucket, sha256)
    throw new EdgefleetError('conflict', `storage refused to assemble upload ${uploadId}; start the upload again`, {
      cause,
    })
  }
  if (assembled.size !== s.size) {
    await forget(bucket, sha256)
    throw new EdgefleetError(
      'validation_failed',
      `the parts add up to ${assembled.size} bytes, not ${s.size}; the upload was aborted`,
    )
  }
  const pending = await bucket.get(pendingKey(sha256))
  if (!pending) throw new EdgefleetError('conflict', `upload ${uploadId} of ${sha256} was completed meanwhile`)
  try {
    // R2 hashes the bytes as it writes them and refuses the object on a mismatch.
    await bucket.put(artifactKey(sha256), pending.body, {
      sha256,
      httpMetadata: { contentType: 'application/octet-stream', cacheControl: 'public, max-age=31536000, immutable' },
    })
  } catch (cause) {
    await forget(bucket, sha256)
    throw new EdgefleetError(
      'hash_mismatch',
      `the uploaded parts do not hash to ${sha256}; the upload was aborted and nothing was stored`,
      {
        cause,
      },
    )
  }
  await forget(bucket, sha256)
  return { sha256, size: s.size, created: true }
}

/** Aborts an upload and forgets its parts; one that is gone (aborted, completed) is `not_found`, changing nothing. */
export async function abortUpload(bucket: R2Bucket, sha256: string, uploadId: string): Promise<void> {
  await stateOf(bucket, sha256, uploadId)
  await bucket
    .resumeMultipartUpload(pendingKey(sha256), uploadId)
    .abort()
    .catch(() => undefined)
  await forget(bucket, sha256)
}
