/** Where a command writes: injected so commands can run in-process (tests) as well as in a terminal. */
export interface Io {
  /** Writes to standard output, as is (include the newline). */
  out(text: string): void
  /** Writes to standard error, as is (include the newline). */
  err(text: string): void
}

/** The process's real stdout and stderr. */
export const processIo: Io = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
}
