// The part of cli-progress 3.12 the CLI uses (the package ships no types; @types/cli-progress would replace this).
declare module 'cli-progress' {
  interface BarOptions {
    stream?: NodeJS.WritableStream
    format?: string
    barsize?: number
    hideCursor?: boolean
    clearOnComplete?: boolean
    fps?: number
  }
  export class SingleBar {
    constructor(options: BarOptions, preset?: object)
    start(total: number, startValue: number, payload?: Record<string, unknown>): void
    increment(delta: number, payload?: Record<string, unknown>): void
    update(value: number, payload?: Record<string, unknown>): void
    stop(): void
  }
  const cliProgress: {
    SingleBar: typeof SingleBar
    Presets: Record<'legacy' | 'shades_classic' | 'shades_grey' | 'rect', object>
  }
  export default cliProgress
}
