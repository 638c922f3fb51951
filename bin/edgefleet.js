#!/usr/bin/env node
// Runs the TypeScript CLI without a build step: tsx's ESM loader compiles cli/*.ts on import. The
// import below resolves against this file, so the command works from any working directory.
import { fileURLToPath } from 'node:url'
import { register } from 'tsx/esm/api'

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) })
const { run } = await import('../cli/main.ts')
process.exitCode = await run(process.argv)
