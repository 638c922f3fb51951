/**
 * @module
 * The champion a candidate must beat: the model's `production` version, fetched from the edge with its
 * signature and ONNX file so it can be run by the same engine on the same holdout.
 */
import { EdgefleetError, isEdgefleetError } from '../../core/errors.ts'
import type { Manifest, ModelDetail } from '../../core/formats/registry.ts'
import type { TabularSignature } from '../../trainer/tabular-signature.ts'
import type { EdgeClient } from '../edge-client.ts'

/** The production version, ready to run. */
export interface ChampionModel {
  version: number
  manifest: Manifest
  signature: TabularSignature
  onnx: Uint8Array
}

/** The model's detail, or null when it does not exist. */
export async function findModel(client: EdgeClient, name: string): Promise<ModelDetail | null> {
  try {
    return await client.getModel(name)
  } catch (e) {
    if (isEdgefleetError(e) && e.code === 'not_found') return null
    throw e
  }
}

/** The production version of a model with its ONNX bytes, or null when nothing is in production. */
export async function loadChampion(client: EdgeClient, model: ModelDetail | null): Promise<ChampionModel | null> {
  const version = model?.aliases.production
  if (model === null || version === undefined) return null
  const manifest = await client.getVersion(model.name, version)
  const signature = manifest.signature ?? model.signature
  if (manifest.format !== 'onnx')
    throw new EdgefleetError(
      'bad_request',
      `${model.name} v${version} (production) is ${manifest.format}; the retrainer judges ONNX classifiers`,
    )
  if (signature?.kind !== 'tabular' || signature.output.kind !== 'classes')
    throw new EdgefleetError(
      'bad_request',
      `${model.name} v${version} (production) has no tabular classes signature to evaluate it with`,
    )
  const file = manifest.files.find((f) => f.path.toLowerCase().endsWith('.onnx'))
  if (file === undefined) throw new EdgefleetError('bad_request', `${model.name} v${version} has no .onnx file`)
  return { version, manifest, signature, onnx: await client.getArtifact(file.sha256) }
}
