import * as z from 'zod'

/** A model name: a slug of 1–64 lowercase letters, digits and dashes. */
/** What a model name may be: a slug of [a-z0-9-], 1 to 64 characters. */
export const MODEL_NAME_PATTERN = /^[a-z0-9-]{1,64}$/
export const ModelName = z.string().regex(MODEL_NAME_PATTERN, 'a slug of [a-z0-9-], 1 to 64 characters')

/** A lowercase hex SHA-256 digest. */
export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex characters')

/** Milliseconds since the Unix epoch, UTC. */
export const EpochMs = z.number().int().nonnegative()

/** A non-negative integer count. */
export const Count = z.number().int().nonnegative()

/**
 * A path inside a model version: relative, forward slashes, no `.`/`..` segments, no control
 * characters, at most 512 characters (e.g. `model.json`, `group1-shard1of2.bin`). Devices store and
 * resolve files by it, so manifests and assignments are held to it as well as publish requests.
 */
export const FilePath = z
  .string()
  .min(1)
  .max(512)
  .refine(
    // Control characters (NUL, newlines…) are exactly what this refuses.
    // eslint-disable-next-line no-control-regex
    (p) => !p.startsWith('/') && !p.includes('\\') && !/[\u0000-\u001f\u007f]/.test(p),
    'a relative path with forward slashes',
  )
  .refine((p) => p.split('/').every((s) => s !== '' && s !== '.' && s !== '..'), 'no empty, "." or ".." segments')

/** A rollout id, as assignments hand it to devices and reports carry it back. */
export const RolloutId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a rollout id of [A-Za-z0-9_-], 1 to 64 characters')

/** Rollout arms. */
export const Arm = z.enum(['baseline', 'candidate'])
export type Arm = z.infer<typeof Arm>

/** The role a model version plays on a device. */
export const Role = z.enum(['primary', 'shadow'])
export type Role = z.infer<typeof Role>

/**
 * Model file formats the SDK can run. `hf-onnx` is a Hugging Face model folder (config, tokenizer,
 * ONNX graphs per weight type) that the app's own transformers.js runs from edgefleet's cache.
 */
export const ModelFormat = z.enum(['onnx', 'tfjs-layers', 'tfjs-graph', 'hf-onnx'])
export type ModelFormat = z.infer<typeof ModelFormat>

/** Execution backends across both engines. */
export const Backend = z.enum(['webgpu', 'webgl', 'wasm', 'cpu', 'webnn'])
export type Backend = z.infer<typeof Backend>
