import type * as Tf from '@tensorflow/tfjs'
import { EdgefleetError } from '../../core/errors.ts'
import type { ModelFiles } from './engine.ts'

/**
 * A TensorFlow.js IOHandler over files already in memory: `model.json` plus its weight shards,
 * concatenated in `weightsManifest` order (groups, then paths within a group) — the layout
 * `tf.io.decodeWeights` expects, as if the shards had been fetched one after another.
 */
export function memoryHandler(tf: typeof Tf, model: ModelFiles): Tf.io.IOHandler {
  const paths = Object.keys(model.files)
  const jsonPath = paths.includes('model.json') ? 'model.json' : paths.find((p) => p.endsWith('.json'))
  if (jsonPath === undefined)
    throw new EdgefleetError('bad_request', `model ${model.name} has no model.json among: ${paths.join(', ')}`, {
      pointer: '/files',
    })
  let json: Tf.io.ModelJSON
  try {
    json = JSON.parse(new TextDecoder().decode(model.files[jsonPath])) as Tf.io.ModelJSON
  } catch (e) {
    throw new EdgefleetError('bad_request', `${jsonPath} of model ${model.name} is not JSON: ${(e as Error).message}`, {
      pointer: `/files/${jsonPath}`,
    })
  }
  // Shard paths in the manifest are relative to model.json's folder.
  const folder = jsonPath.includes('/') ? jsonPath.slice(0, jsonPath.lastIndexOf('/') + 1) : ''
  return {
    load: () =>
      tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: Tf.io.WeightsManifestEntry[] = []
        const shards: ArrayBuffer[] = []
        for (const group of manifest) {
          specs.push(...group.weights)
          for (const path of group.paths) {
            const shard = model.files[folder + path]
            if (shard === undefined)
              throw new EdgefleetError(
                'bad_request',
                `model ${model.name}: weight shard "${folder + path}" is missing`,
                { pointer: '/files' },
              )
            shards.push(shard)
          }
        }
        return [specs, concat(shards)]
      }),
  }
}

function concat(buffers: readonly ArrayBuffer[]): ArrayBuffer {
  if (buffers.length === 1) return buffers[0]
  let size = 0
  for (const b of buffers) size += b.byteLength
  const out = new Uint8Array(size)
  let offset = 0
  for (const b of buffers) {
    out.set(new Uint8Array(b), offset)
    offset += b.byteLength
  }
  return out.buffer
}
