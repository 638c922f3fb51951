/**
 * @module
 * How `edgefleet retrain --family mlp` reports its epochs: a progress bar (cli-progress) with the
 * loss on a terminal, JSON lines on standard error with `--json` (standard output keeps the run),
 * and otherwise a plain line every 50 epochs, which reads well in CI logs.
 */
import cliProgress from 'cli-progress'
import type { Io } from '../io.ts'

/** Epochs between two plain lines. */
export const LINE_EVERY = 50
/** Epochs between two JSON lines. */
export const JSON_EVERY = 10

/** Receives each epoch's mean training loss; `close` ends the report (stops the bar). */
export interface EpochProgress {
  onEpoch(epoch: number, epochs: number, loss: number): void
  close(): void
}

/** The report for `mode`: `json` lines, a bar on `tty` when it is a terminal, else plain lines. */
export function createEpochProgress(io: Io, mode: { json: boolean }, tty: NodeJS.WriteStream | null): EpochProgress {
  if (mode.json)
    return {
      onEpoch(epoch, epochs, loss) {
        if (epoch % JSON_EVERY === 0 || epoch === epochs)
          io.err(`${JSON.stringify({ progress: 'epoch', epoch, epochs, loss })}\n`)
      },
      close: () => undefined,
    }
  if (tty === null || tty.isTTY !== true)
    return {
      onEpoch(epoch, epochs, loss) {
        if (epoch % LINE_EVERY === 0 || epoch === epochs) io.err(`epoch ${epoch}/${epochs}: loss ${loss.toFixed(4)}\n`)
      },
      close: () => undefined,
    }
  const bar = new cliProgress.SingleBar(
    {
      stream: tty,
      format: 'training mlp [{bar}] epoch {value}/{total}  loss {loss}',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  )
  let started = false
  let last: string | null = null
  return {
    onEpoch(epoch, epochs, loss) {
      if (!started) bar.start(epochs, 0, { loss: loss.toFixed(4) })
      started = true
      bar.update(epoch, { loss: loss.toFixed(4) })
      last = `epoch ${epoch}/${epochs}: loss ${loss.toFixed(4)}`
    },
    close() {
      if (!started) return
      bar.stop()
      // The bar clears itself; the final loss stays on screen.
      if (last !== null) io.err(`${last}\n`)
      started = false
    },
  }
}
