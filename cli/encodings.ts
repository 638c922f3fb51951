/**
 * @module
 * Compressed copies of uploaded artifacts: a gzip copy is uploaded beside a file when it saves at least
 * `MIN_SAVING` of the bytes, and the edge serves it to devices that accept gzip (the ONNX runtime's
 * 14 MB wasm goes out as about 3.7 MB). The edge stores a copy only after decoding it to the file's exact
 * bytes, and devices verify the decoded bytes by SHA-256 as always.
 */
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import type { EdgeClient } from './edge-client.ts'

/** Smallest saving that makes a compressed copy worth storing and serving. */
export const MIN_SAVING = 0.1

const gzipAsync = promisify(gzip)

/** Uploads a gzip copy of an uploaded artifact when it pays; returns its size, or null when none was worth it. */
export async function uploadGzipCopy(
  client: EdgeClient,
  file: { source: string; sha256: string; size: number },
): Promise<number | null> {
  if (file.size < 1024) return null
  const encoded = await gzipAsync(await readFile(file.source), { level: 9 })
  if (encoded.length > file.size * (1 - MIN_SAVING)) return null
  await client.putArtifactEncoding(file.sha256, 'gzip', new Uint8Array(encoded))
  return encoded.length
}
