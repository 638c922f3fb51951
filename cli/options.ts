import { InvalidArgumentError } from 'commander'

/** Commander parser for `a,b` lists; repeating the flag appends (`--ignore a --ignore b,c`). */
export function listOption(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  ]
}

/** Commander parser for an integer option within [min, max]. */
export function intOption(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!/^\s*[-+]?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`)
    return n
  }
}

const DURATION_UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** Commander parser for a duration such as `30m`, `1h` or `2d`, in milliseconds. */
export function durationOption(value: string): number {
  const m = /^\s*(\d{1,6})\s*([mhd])\s*$/.exec(value)
  const n = m === null ? 0 : Number(m[1]) * DURATION_UNIT_MS[m[2] as keyof typeof DURATION_UNIT_MS]
  if (n <= 0) throw new InvalidArgumentError('expected a duration such as 30m, 1h or 2d')
  return n
}
