import type { RuntimeAssets } from '../protocol.ts'
import { BackendSkip } from './engine.ts'

type Group = keyof RuntimeAssets

/**
 * The engine runtime files the client handed over (bytes from its verified cache), kept for the
 * worker's lifetime so later loads need not send them again. Engines receive blob: URLs, which load
 * without network — the point of caching runtimes in IndexedDB (docs/environment.md, "onnxruntime-web and tfjs offline").
 */
export class RuntimeFiles {
  #assets: RuntimeAssets = {}
  readonly #consumed = new Set<Group>()
  readonly #urls = new Map<string, string>()

  /** Keeps the asset groups in `assets`, except groups an engine has already started from. */
  add(assets: RuntimeAssets | undefined): void {
    if (assets === undefined) return
    for (const group of ['ortWasm', 'ortWebgpu', 'tfjsWasm'] as const) {
      const given = assets[group]
      if (given !== undefined && !this.#consumed.has(group)) this.#assets = { ...this.#assets, [group]: given }
    }
  }

  /** The asset group, or a `missing_runtime` skip naming it. */
  require<G extends Group>(group: G): NonNullable<RuntimeAssets[G]> {
    const found = this.#assets[group]
    if (found === undefined) throw new BackendSkip('missing_runtime', `runtime files "${group}" were not provided`)
    return found
  }

  /** A blob: URL of one small file of a group, made once and kept (engines may start workers from it later). */
  url(group: Group, file: string, bytes: ArrayBuffer, type: string): string {
    const id = `${group}/${file}`
    let url = this.#urls.get(id)
    if (url === undefined) {
      url = URL.createObjectURL(new Blob([bytes], { type }))
      this.#urls.set(id, url)
    }
    return url
  }

  /** Drops the bytes of a group once its engine has compiled them (the .wasm is the bulk: 14-27 MB). */
  consume(group: Group): void {
    const { [group]: _dropped, ...rest } = this.#assets
    this.#assets = rest
    this.#consumed.add(group)
  }
}
