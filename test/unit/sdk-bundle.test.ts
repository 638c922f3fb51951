/**
 * @module
 * What the SDK's bundles may contain: the page's entry stays a small module that loads the rest on the
 * first `load()`, and neither the client nor the worker bundles the schema library (the edge validates
 * what it receives; the SDK checks what it acts on with client/assignment-check.ts). Checked on the
 * bundler's own account of its inputs, as the SDK build bundles them.
 */
import * as esbuild from 'esbuild'
import { describe, expect, it } from 'vitest'

/** The source files (and packages) a bundle of `entry` would hold, chunks excluded. */
async function inputsOf(entry: string, external: RegExp | null = null): Promise<string[]> {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    metafile: true,
    outdir: 'out',
    splitting: true,
    conditions: ['onnxruntime-web-use-extern-wasm'],
    logLevel: 'silent',
    plugins: external
      ? [{ name: 'apart', setup: (b) => b.onResolve({ filter: external }, (a) => ({ path: a.path, external: true })) }]
      : [],
  })
  const entryOutput = Object.values(result.metafile.outputs).find((o) => o.entryPoint === entry)!
  return Object.keys(entryOutput.inputs)
}

describe('the SDK bundles', () => {
  it('the entry holds createFleet and its option checks only; the fleet, workers and zod are chunks or absent', async () => {
    const inputs = await inputsOf('client/index.ts')
    expect(inputs.filter((f) => f.includes('node_modules'))).toEqual([])
    expect(inputs).not.toContain('client/fleet-core.ts')
    expect(inputs.length).toBeLessThan(8)
  })

  it('neither the fleet nor the worker bundles zod', async () => {
    for (const entry of ['client/fleet-core.ts', 'worker/index.ts']) {
      const inputs = await inputsOf(entry, /^\.\/tfjs\.ts$/)
      expect(
        inputs.filter((f) => f.includes('node_modules/zod')),
        entry,
      ).toEqual([])
    }
  })
})
