/**
 * @module
 * The layout's rules, checked on the sources: `core/` imports nothing outside itself and no platform
 * module, the edge never imports the browser SDK, the SDK never imports the edge, CLI or trainer, and
 * no module of the client or the worker reaches itself through its imports (type imports included).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/** Every .ts file under a top-level folder, relative to the repository root. */
function sources(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)))
}

/** The specifiers a file imports or re-exports (static, dynamic and type-only alike). */
function specifiers(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8')
  const found = new Set<string>()
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g))
    found.add(m[1] ?? m[2])
  return [...found]
}

/** Relative imports resolved to repository paths; package imports kept as they are. */
function imports(file: string): string[] {
  return specifiers(file).map((s) => (s.startsWith('.') ? relative(root, resolve(root, dirname(file), s)) : s))
}

describe('layering', () => {
  it('core imports only core and platform-neutral packages', () => {
    const offending = sources('core').flatMap((f) =>
      specifiers(f)
        .filter((s) =>
          s.startsWith('.')
            ? !relative(root, resolve(root, dirname(f), s)).startsWith('core/')
            : /^(cloudflare|node):/.test(s),
        )
        .map((s) => `${f} → ${s}`),
    )
    expect(offending).toEqual([])
  })

  it('the edge never imports the SDK, and the SDK never imports the edge, CLI or trainer', () => {
    const bad = (folder: string, forbidden: RegExp) =>
      sources(folder).flatMap((f) =>
        imports(f)
          .filter((i) => forbidden.test(i))
          .map((i) => `${f} → ${i}`),
      )
    expect(bad('edge', /^(client|worker|cli|trainer)\//)).toEqual([])
    expect(bad('client', /^(edge|cli|trainer)\//)).toEqual([])
    expect(bad('worker', /^(client|edge|cli|trainer)\//)).toEqual([])
  })

  it('no import cycle in the client or the worker', () => {
    const files = [...sources('client'), ...sources('worker')]
    const graph = new Map(files.map((f) => [f, imports(f).filter((i) => files.includes(i))]))
    const cycles: string[] = []
    const state = new Map<string, 'open' | 'done'>()
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].join(' → '))
        return
      }
      state.set(f, 'open')
      for (const next of graph.get(f) ?? []) visit(next, [...path, f])
      state.set(f, 'done')
    }
    for (const f of files) visit(f, [])
    expect(cycles).toEqual([])
  })
})
