/**
 * @module
 * Uploading one large file in parts (`/v1/artifacts/{sha256}/uploads`): the edge says which parts it
 * already holds, so running the same command again after an interruption sends only the rest; each part
 * is streamed from disk (a model of any size never sits in memory whole) and the edge checks the
 * assembled file against its SHA-256 before storing it.
 */
import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import { EdgefleetError, isEdgefleetError } from '../core/errors.ts'
import { MAX_PART_BYTES, MIN_PART_BYTES, partSize, type ArtifactUpload } from '../core/formats/artifact-uploads.ts'
import type { EdgeClient } from './edge-client.ts'

/** Files above this many bytes go up in parts by default (one request carries at most 100 MiB). */
export const DEFAULT_MULTIPART_ABOVE = 64 * 1024 * 1024
/** Default part size: well under the request limit, few enough requests for a multi-GB file. */
export const DEFAULT_PART_BYTES = 32 * 1024 * 1024
/** Attempts per part before the command gives up (a re-run still continues from the parts stored). */
const PART_ATTEMPTS = 3

/** What a multipart upload did: parts sent now and parts the edge held already. */
export interface PartsSent {
  sent: number
  resumed: number
  stored: boolean
}

/**
 * Uploads `file` in parts of `partBytes` and completes it. An upload of the same bytes left by an earlier
 * run continues (with that run's part size); `stored` is true when the edge held the whole file already.
 *
 * @example await uploadInParts(client, { source: 'model.onnx_data', sha256, size }, { partBytes: 32 << 20 })
 */
export async function uploadInParts(
  client: EdgeClient,
  file: { source: string; sha256: string; size: number },
  options: { partBytes?: number; onBytes?: (n: number) => void } = {},
): Promise<PartsSent> {
  const partBytes = options.partBytes ?? DEFAULT_PART_BYTES
  if (partBytes < MIN_PART_BYTES || partBytes > MAX_PART_BYTES)
    throw new EdgefleetError('bad_request', `parts are ${MIN_PART_BYTES} to ${MAX_PART_BYTES} bytes (got ${partBytes})`)
  let upload: ArtifactUpload
  try {
    upload = await client.createUpload(file.sha256, { size: file.size, partBytes })
  } catch (e) {
    // An earlier run with another part size left its upload: continuing it is what the user wants.
    const earlier = isEdgefleetError(e) && e.code === 'conflict' ? e.details.data : undefined
    if (earlier?.size !== file.size || typeof earlier.partBytes !== 'number') throw e
    upload = await client.createUpload(file.sha256, { size: file.size, partBytes: earlier.partBytes })
  }
  if (upload.stored) return { sent: 0, resumed: 0, stored: true }
  const held = new Set(upload.parts.map((p) => p.partNumber))
  for (const n of held) options.onBytes?.(partSize(upload.size, upload.partBytes, n) ?? 0)
  let sent = 0
  for (let n = 1; n <= upload.partCount; n++) {
    if (held.has(n)) continue
    const size = partSize(upload.size, upload.partBytes, n)!
    const start = (n - 1) * upload.partBytes
    for (let attempt = 1; ; attempt++) {
      let counted = 0
      try {
        await client.putUploadPart(
          upload,
          n,
          size,
          rangeStream(file.source, start, size, (b) => {
            counted += b
            options.onBytes?.(b)
          }),
        )
        break
      } catch (e) {
        options.onBytes?.(-counted)
        if (!isEdgefleetError(e) || e.code !== 'network_error' || attempt >= PART_ATTEMPTS) throw e
      }
    }
    sent++
  }
  try {
    await client.completeUpload(upload)
  } catch (e) {
    // A completion whose answer was lost and that went again finds its upload gone and the file stored.
    if (!(isEdgefleetError(e) && e.code === 'not_found' && (await client.hasArtifact(file.sha256)))) throw e
  }
  return { sent, resumed: held.size, stored: false }
}

/** Bytes `[start, start + length)` of a file as a web stream, counting what is read. */
function rangeStream(
  file: string,
  start: number,
  length: number,
  onBytes: (n: number) => void,
): ReadableStream<Uint8Array> {
  const counted = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      onBytes(chunk.byteLength)
      controller.enqueue(chunk)
    },
  })
  const source = createReadStream(file, { start, end: start + length - 1 })
  return (Readable.toWeb(source) as ReadableStream<Uint8Array>).pipeThrough(counted)
}
