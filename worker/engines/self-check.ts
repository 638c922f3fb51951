import type { SelfCheck, TensorData } from '../protocol.ts'
import { ARRAY_OF, elementCount, numberAt } from '../tensor-data.ts'
import { BackendSkip, type Engine, type TensorInfo } from './engine.ts'

/**
 * The WebGPU golden self-check (DESIGN "Client SDK"): the same probe input through the WebGPU session
 * and a WASM one, outputs compared elementwise. An output passes when
 *
 *   max_i |gpu_i − wasm_i| ≤ SELF_CHECK_TOLERANCE · max(1, max_i |wasm_i|)
 *
 * i.e. 1e-3 absolute for outputs of magnitude ≤ 1 (probabilities, normalized features) and 1e-3
 * relative to the output's largest magnitude beyond that — loose enough for fp32 reassociation across
 * GPU kernels, tight enough to catch a wrong kernel (SwiftShader gives Silero v5 0.0999 vs 0.0664).
 * Any NaN, or a shape or dtype that differs, fails.
 */
export const SELF_CHECK_TOLERANCE = 1e-3

// Verdicts per model version and engine family, for this worker's lifetime: the check runs on a
// model's first WebGPU load only, and a model that failed it skips WebGPU at once on later loads.
const verdicts = new Map<string, SelfCheck>()

/** The remembered mismatch of `model` as a skip, when its first WebGPU load failed the check. */
export function knownMismatch(
  family: string,
  model: string,
  accelerator: Accelerator = 'webgpu',
): BackendSkip | undefined {
  const check = verdicts.get(`${family}:${accelerator}:${model}`)
  return check === undefined || check.passed ? undefined : mismatch(check, 'an earlier load', accelerator)
}

/** The accelerated backends held to the golden self-check; a mismatch is `<accelerator>_mismatch`. */
export type Accelerator = 'webgpu' | 'webnn'

/**
 * Runs the probe through the WebGPU engine and a reference engine (made only when this model has
 * no verdict yet, and disposed after) and compares. Resolves with the passing check, or throws a
 * `webgpu_mismatch` BackendSkip carrying it.
 */
export async function goldenCheck(
  family: string,
  model: string,
  gpu: Engine,
  makeReference: () => Promise<Engine>,
  probe: Record<string, TensorData> | undefined,
  accelerator: Accelerator = 'webgpu',
): Promise<SelfCheck> {
  const id = `${family}:${accelerator}:${model}`
  let check = verdicts.get(id)
  if (check === undefined) {
    const reference = await makeReference()
    try {
      const feeds = probeInputs(gpu.inputs, probe)
      check = compareOutputs(await gpu.run(feeds), await reference.run(feeds))
    } finally {
      await reference.dispose()
    }
    verdicts.set(id, check)
  }
  if (!check.passed) throw mismatch(check, 'the reference', accelerator)
  return check
}

function mismatch(check: SelfCheck, against: string, accelerator: Accelerator): BackendSkip {
  return new BackendSkip(
    `${accelerator}_mismatch`,
    `${accelerator === 'webgpu' ? 'WebGPU' : 'WebNN'} output "${check.output}" differs from ${against} by ${check.maxAbsDiff} (allowed ${check.tolerance})`,
    check,
  )
}

/** Compares two runs' outputs by the rule above; the report names the worst output. */
export function compareOutputs(gpu: Record<string, TensorData>, wasm: Record<string, TensorData>): SelfCheck {
  let worst: SelfCheck = { passed: true, maxAbsDiff: 0, tolerance: SELF_CHECK_TOLERANCE, output: '' }
  let worstRatio = -1
  for (const [name, ref] of Object.entries(wasm)) {
    const got = gpu[name]
    const n = ref.data.length
    if (got === undefined || got.dtype !== ref.dtype || got.dims.join() !== ref.dims.join() || got.data.length !== n)
      return { passed: false, maxAbsDiff: Infinity, tolerance: SELF_CHECK_TOLERANCE, output: name }
    let maxDiff = 0
    let scale = 1
    for (let i = 0; i < n; i++) {
      const r = numberAt(ref, i)
      const diff = Math.abs(numberAt(got, i) - r)
      // `!(diff <= maxDiff)` also catches NaN on either side.
      if (!(diff <= maxDiff)) maxDiff = Number.isNaN(diff) ? Infinity : diff
      if (Math.abs(r) > scale) scale = Math.abs(r)
    }
    const tolerance = SELF_CHECK_TOLERANCE * scale
    const ratio = maxDiff / tolerance
    if (ratio > worstRatio) {
      worstRatio = ratio
      worst = { passed: maxDiff <= tolerance, maxAbsDiff: maxDiff, tolerance, output: name }
    }
  }
  return worst
}

/**
 * A deterministic probe input from the model's input specs: floats uniform in [0, 1) from a fixed
 * xorshift32 sequence, integers and bools 0; a dynamic dim is 1 on the first axis (batch) and 32
 * elsewhere (a multiple of the strides of convolutional detectors). Inputs in `given` are used as they are.
 */
export function probeInputs(
  inputs: readonly TensorInfo[],
  given: Record<string, TensorData> = {},
): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {}
  let state = 0x9e3779b9
  for (const info of inputs) {
    const fixed = given[info.name]
    if (fixed !== undefined) {
      feeds[info.name] = fixed
      continue
    }
    const dtype = info.dtype ?? 'float32'
    const dims = (info.dims ?? [1]).map((d, axis) => d ?? (axis === 0 ? 1 : 32))
    const data = new (ARRAY_OF[dtype] as new (n: number) => TensorData['data'])(elementCount(dims))
    if (data instanceof Float32Array) {
      for (let i = 0; i < data.length; i++) {
        state ^= state << 13
        state ^= state >>> 17
        state ^= state << 5
        data[i] = (state >>> 0) / 4294967296
      }
    }
    feeds[info.name] = { dtype, dims, data }
  }
  return feeds
}
