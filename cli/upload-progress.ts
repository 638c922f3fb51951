import cliProgress from 'cli-progress'
import type { Io } from './io.ts'
import { formatBytes } from './units.ts'

/** A bar is worth drawing only for uploads above this many bytes. */
export const PROGRESS_BAR_MIN_BYTES = 1_000_000

/** Reports an upload: a file skipped, bytes sent, a file done, the end. */
export interface UploadProgress {
  skipped(path: string, size: number): void
  started(path: string, size: number): void
  sent(bytes: number): void
  finished(path: string, size: number): void
  close(): void
}

/**
 * A progress bar (cli-progress) on `tty` when it is a terminal and more than 1 MB is to be sent;
 * otherwise one plain line per file on standard error, which reads well in CI logs.
 */
export function createUploadProgress(io: Io, totalBytes: number, tty: NodeJS.WriteStream | null): UploadProgress {
  const lines: UploadProgress = {
    skipped: (path, size) => io.err(`already stored  ${path} (${formatBytes(size)})\n`),
    started: () => undefined,
    sent: () => undefined,
    finished: (path, size) => io.err(`uploaded        ${path} (${formatBytes(size)})\n`),
    close: () => undefined,
  }
  if (tty === null || tty.isTTY !== true || totalBytes <= PROGRESS_BAR_MIN_BYTES) return lines

  const bar = new cliProgress.SingleBar(
    {
      stream: tty,
      format: 'uploading [{bar}] {percentage}% {done}/{all} {file}',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  )
  let done = 0
  let started = false
  const payload = (file: string) => ({ file, done: formatBytes(done), all: formatBytes(totalBytes) })
  return {
    skipped: lines.skipped,
    started(path) {
      if (!started) bar.start(totalBytes, 0, payload(path))
      else bar.update(done, payload(path))
      started = true
    },
    sent(bytes) {
      done += bytes
      bar.update(done, { done: formatBytes(done) })
    },
    finished: () => undefined,
    close() {
      if (started) bar.stop()
    },
  }
}
