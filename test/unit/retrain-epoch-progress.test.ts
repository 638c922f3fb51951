// How `edgefleet retrain --family mlp` reports epochs: JSON lines with --json, a cli-progress bar on a
// terminal (a Writable that says it is a TTY, so the bar's escape codes are captured), plain lines otherwise.
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createEpochProgress } from '../../cli/retrain/epoch-progress.ts'
import type { Io } from '../../cli/io.ts'

function capture(): { io: Io; err: string[] } {
  const err: string[] = []
  return { io: { out: () => undefined, err: (s: string) => void err.push(s) } as unknown as Io, err }
}

const losses = Array.from({ length: 120 }, (_, i) => 1 / (i + 1))
const run = (p: ReturnType<typeof createEpochProgress>) => {
  losses.forEach((l, i) => p.onEpoch(i + 1, losses.length, l))
  p.close()
}

describe('mlp epoch progress', () => {
  it('--json: one JSON line every 10 epochs and the last, on stderr', () => {
    const { io, err } = capture()
    run(createEpochProgress(io, { json: true }, null))
    const lines = err.map((l) => JSON.parse(l))
    expect(lines).toHaveLength(12)
    expect(lines[0]).toEqual({ progress: 'epoch', epoch: 10, epochs: 120, loss: 0.1 })
    expect(lines.at(-1)).toEqual({ progress: 'epoch', epoch: 120, epochs: 120, loss: 1 / 120 })
  })

  it('not a terminal: a plain line every 50 epochs and the last', () => {
    const { io, err } = capture()
    run(createEpochProgress(io, { json: false }, null))
    expect(err).toEqual(['epoch 50/120: loss 0.0200\n', 'epoch 100/120: loss 0.0100\n', 'epoch 120/120: loss 0.0083\n'])
  })

  it('a terminal: a bar with the epoch and loss, cleared at the end, the final loss left as a line', () => {
    const { io, err } = capture()
    let drawn = ''
    const tty = Object.assign(
      new Writable({
        write(chunk, _enc, done) {
          drawn += chunk.toString()
          done()
        },
      }),
      { isTTY: true, columns: 100, rows: 40 },
    ) as unknown as NodeJS.WriteStream
    run(createEpochProgress(io, { json: false }, tty))
    expect(drawn).toContain('training mlp [')
    expect(drawn).toMatch(/epoch \d+\/120 {2}loss 0\.\d{4}/)
    expect(err).toEqual(['epoch 120/120: loss 0.0083\n'])
  })
})
