/**
 * @module
 * Multipart artifact uploads (`/v1/artifacts/{sha256}/uploads`): files larger than one request may
 * carry are sent in numbered parts of one fixed size (the last may be shorter), then assembled and
 * verified against their SHA-256 by the edge.
 */
import * as z from 'zod'

/** Smallest part but the last: R2 refuses to assemble parts under 5 MiB (Miniflare too). */
export const MIN_PART_BYTES = 5 * 1024 * 1024
/** Largest part: one request body, under the 100 MB a Worker accepts on Cloudflare's Free and Pro plans. */
export const MAX_PART_BYTES = 100 * 1024 * 1024
/**
 * Largest multipart artifact: the edge verifies the assembled object by writing it to its content address
 * in one R2 `put`, which R2 limits to 5 GiB − 5 MiB (onnxruntime-web cannot hold more in one buffer anyway).
 */
export const MAX_MULTIPART_BYTES = 5 * 1024 * 1024 * 1024 - 5 * 1024 * 1024
/** R2 assembles at most this many parts. */
export const MAX_PARTS = 10_000

/** `POST /v1/artifacts/{sha256}/uploads`: the whole file's size and the size of every part but the last. */
export const CreateUpload = z.strictObject({
  size: z.number().int().min(1).max(MAX_MULTIPART_BYTES),
  partBytes: z.number().int().min(MIN_PART_BYTES).max(MAX_PART_BYTES),
})
export type CreateUpload = z.infer<typeof CreateUpload>

/** One part the edge holds. */
export const UploadedPart = z.object({ partNumber: z.number().int().min(1), size: z.number().int().nonnegative() })
export type UploadedPart = z.infer<typeof UploadedPart>

/**
 * An upload in progress: the parts already received (a re-run sends only the others), or `stored` when
 * the artifact exists already (nothing to send).
 */
export const ArtifactUpload = z.object({
  sha256: z.string(),
  uploadId: z.string(),
  size: z.number().int(),
  partBytes: z.number().int(),
  partCount: z.number().int(),
  parts: z.array(UploadedPart),
  stored: z.boolean(),
})
export type ArtifactUpload = z.infer<typeof ArtifactUpload>

/** How many parts a file of `size` bytes has in parts of `partBytes`. */
export function partCount(size: number, partBytes: number): number {
  return Math.ceil(size / partBytes)
}

/** The exact size part `n` (1-based) must have: `partBytes`, the remainder for the last, or null when out of range. */
export function partSize(size: number, partBytes: number, n: number): number | null {
  const count = partCount(size, partBytes)
  if (!Number.isInteger(n) || n < 1 || n > count) return null
  return n < count ? partBytes : size - (count - 1) * partBytes
}
